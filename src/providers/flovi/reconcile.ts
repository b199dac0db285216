// Reconciliation for missed webhooks: reservations that are not settled and have been silent for a while
// are looked up in Flovi's API; a newer status there becomes a transition with source "reconciliation".
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { applyReservationReport } from "../../db/reservations.js";
import { withTransaction } from "../../db/sql.js";
import type { Relay } from "../../delivery/relay.js";
import { decideTransition, isReservationState, type ReservationState } from "../../domain/reservation.js";
import { FloviApiError, type FloviClient } from "./client.js";

/** The API's simplified statuses (confirmed, driving, sealed, cancelled) in webhook terms. */
const API_STATUS: Record<string, ReservationState> = {
  confirmed: "created",
  driving: "driving",
  sealed: "sealed",
  cancelled: "cancelled",
};

const BATCH = 100;

export async function reconcileReservations(deps: {
  db: Database;
  client: FloviClient;
  log: Logger;
  relay: Relay;
  silentForMs: number;
}): Promise<{ checked: number; updated: number; stoppedBy?: string }> {
  if (!deps.client.enabled) return { checked: 0, updated: 0 };
  const cutoff = new Date(Date.now() - deps.silentForMs);
  const candidates = await deps.db.prisma.reservation.findMany({
    where: {
      state: { in: ["created", "taken", "driving"] },
      lastChangedAt: { lt: cutoff },
      OR: [{ lastReconciledAt: null }, { lastReconciledAt: { lt: cutoff } }],
    },
    orderBy: { lastChangedAt: "asc" },
    take: BATCH,
    select: { id: true },
  });

  let updated = 0;
  let checked = 0;
  for (const { id } of candidates) {
    let status: string;
    try {
      status = (await deps.client.getReservation(id)).status.toLowerCase();
    } catch (error) {
      if (!(error instanceof FloviApiError)) throw error;
      const fields = { reservationId: id, statusCode: error.statusCode, errorCode: error.errorCode, correlationId: error.correlationId };
      if (error.statusCode === 429 || error.statusCode === 401 || error.statusCode === 403) {
        // Rate limited or not authorized: stop this run; the next scheduled run starts over.
        deps.log.warn(fields, "flovi reconciliation stopped by the API");
        return { checked, updated, stoppedBy: error.errorCode };
      }
      deps.log.warn(fields, "flovi reservation look-up failed");
      await deps.db.prisma.reservation.update({ where: { id }, data: { lastReconciledAt: new Date() } });
      checked += 1;
      continue;
    }
    checked += 1;
    const mapped = API_STATUS[status];
    const applied = await withTransaction(deps.db, async (sql) => {
      const [current] = await sql.query<{ state: string }>("UPDATE reservations SET last_reconciled_at = now() WHERE id = $1 RETURNING state", [id]);
      if (!mapped || !current || !isReservationState(current.state) || !decideTransition(current.state, mapped).emits) return false;
      const now = new Date();
      await applyReservationReport(sql, {
        change: { reservationId: id, externalId: null, state: mapped, cancellationReason: null, occurredAt: now, costs: null, vehicles: null },
        source: "reconciliation",
        receivedAt: now,
        deliveryId: null,
        dedupeKey: `flovi:reconciliation:${id}:${mapped}`,
        lastPayload: { reconciledStatus: status },
      });
      return true;
    });
    if (applied) {
      updated += 1;
      deps.log.info({ reservationId: id, status: mapped }, "reservation reconciled from the flovi api");
    }
  }
  if (updated > 0) deps.relay.nudge();
  return { checked, updated };
}
