// Reconciliation for missed webhooks: reservations that are not settled and have been silent for a while
// are looked up in Flovi's API; a newer status there becomes a transition with source "reconciliation".
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { loadReservationSnapshots, lockReservations, writeReportPlan } from "../../db/reservation-writes.js";
import { withTransaction } from "../../db/sql.js";
import { decideTransition, isReservationState, type ReservationState } from "../../domain/reservation.js";
import { FloviApiError, type FloviClient } from "./client.js";
import type { Committed } from "./inbox.js";
import { planReports } from "./plan.js";

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
  /** Called after each commit with what it emitted (the worker dispatches it). */
  onCommitted?: (committed: Committed) => void;
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
    const committed = await withTransaction(deps.db, async (sql) => {
      await lockReservations(sql, [id]);
      await sql.query("UPDATE reservations SET last_reconciled_at = now() WHERE id = $1", [id]);
      const [current] = await loadReservationSnapshots(sql, [id]);
      if (!mapped || !current || !isReservationState(current.state) || !decideTransition(current.state, mapped).emits) return null;
      const now = new Date();
      const plan = planReports(
        [
          {
            change: { reservationId: id, externalId: null, state: mapped, cancellationReason: null, occurredAt: now, costs: null, vehicles: null },
            source: "reconciliation",
            receivedAt: now,
            deliveryId: null,
            dedupeKey: `flovi:reconciliation:${id}:${mapped}`,
            lastPayload: { reconciledStatus: status },
            requestId: null,
          },
        ],
        [current],
      );
      const deliveries = await writeReportPlan(sql, plan);
      return { events: plan.events.map((e) => e.envelope), deliveries };
    });
    if (committed) deps.onCommitted?.(committed);
    if (committed) {
      updated += 1;
      deps.log.info({ reservationId: id, status: mapped }, "reservation reconciled from the flovi api");
    }
  }
  return { checked, updated };
}
