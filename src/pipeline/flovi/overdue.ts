// Overdue final costs: Flovi sends `final_costs` about two weeks after `sealed` (its billing event). A
// reservation sealed longer ago than FLOVI_FINAL_COSTS_OVERDUE_MS with no final costs emits
// `reservation.final_costs_overdue` once (status unchanged, `sealed`), carrying the Partner API's current
// price and breakdown when FLOVI_API_KEY is set. A later `final_costs` webhook is applied as usual.
//
// With the API on: a 429 ends the run (and pauses Flovi look-ups until its Retry-After); a 404 or 403 emits
// the event without a price (Flovi will not tell us more); any other failure leaves the reservation for the
// next run.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { providerPausedUntil } from "../../db/provider-state.js";
import { loadReservationSnapshots, lockReservations } from "../../db/reservation-writes.js";
import { markFinalCostsOverdueIn, overdueFinalCostsCandidates } from "../../db/reservations.js";
import { withTransaction } from "../../db/sql.js";
import type { FloviClient } from "../../providers/flovi/client.js";
import { ProviderError } from "../../providers/provider-error.js";
import type { Committed } from "./inbox.js";
import { FLOVI_API, pauseFloviApi, priceDetails } from "./reconcile.js";
import { writeSameStatusEvent } from "./side-event.js";

const BATCH = 100;

export interface OverdueResult {
  flagged: number;
  stoppedBy?: string;
}

export async function flagOverdueFinalCosts(deps: {
  db: Database;
  client: FloviClient;
  log: Logger;
  overdueMs: number;
  onCommitted?: (committed: Committed) => void;
}): Promise<OverdueResult> {
  const result: OverdueResult = { flagged: 0 };
  const sealedBefore = new Date(Date.now() - deps.overdueMs);
  const candidates = await overdueFinalCostsCandidates(deps.db, sealedBefore, BATCH);
  for (const id of candidates) {
    let price: Record<string, unknown> = {};
    if (deps.client.enabled && !(await providerPausedUntil(deps.db, FLOVI_API))) {
      try {
        const found = await deps.client.getReservation(id);
        price = priceDetails(found);
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        const fields = { reservationId: id, ...error.logFields };
        if (error.kind === "rate_limited") {
          const until = await pauseFloviApi(deps.db, error);
          deps.log.warn({ ...fields, pausedUntil: until }, "flovi rate limited the overdue final costs look-up; the rest wait for the next run");
          return { ...result, stoppedBy: error.code };
        }
        if (error.kind !== "not_found" && error.kind !== "forbidden") {
          deps.log.warn(fields, "flovi look-up for overdue final costs failed; tried again next run");
          continue;
        }
      }
    }
    const committed = await withTransaction(deps.db, async (sql) => {
      await lockReservations(sql, [id]);
      const [current] = await loadReservationSnapshots(sql, [id]);
      // Final costs may have arrived meanwhile: only a reservation still sealed is overdue.
      if (current?.state !== "sealed" || current.lastChangedAt >= sealedBefore) return null;
      const written = await writeSameStatusEvent(sql, current, {
        type: "final_costs_overdue",
        details: { sealedAt: current.lastChangedAt.toISOString(), overdueAfterMs: deps.overdueMs, ...price },
        dedupeKey: `flovi:final_costs_overdue:${id}`,
      });
      await markFinalCostsOverdueIn(sql, id);
      return written;
    });
    if (committed) {
      result.flagged += 1;
      deps.onCommitted?.(committed);
      deps.log.info({ reservationId: id, withPrice: "price" in price }, "final costs overdue");
    }
  }
  return result;
}
