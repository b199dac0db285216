// Events that carry the whole reservation. Once per reservation, after its first report and never in the way
// of its state event, the worker fetches GET /customers/v2/reservation/:id and keeps what the state alone does
// not say: reservation type, schedule windows, route, origin, destination, vehicle. Every later event of the
// reservation carries them in data.details (plan.ts); since they arrive after the first event, one
// `reservation.updated` (status unchanged) carries them to subscribers now.
//
// Flovi's answers: 404 or 403 end it for good (`details_unavailable` says why, no event); 429 pauses Flovi
// look-ups until its Retry-After and the job is retried later; other failures are retried with backoff, and
// the sweep on the reconciliation schedule picks up any reservation still without details.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { providerPausedUntil } from "../../db/provider-state.js";
import { loadReservationSnapshots, lockReservations } from "../../db/reservation-writes.js";
import { storeReservationDetailsIn } from "../../db/reservations.js";
import { withTransaction } from "../../db/sql.js";
import type { FloviClient, FloviReservation } from "../../providers/flovi/client.js";
import { ProviderError } from "../../providers/provider-error.js";
import type { Committed } from "./inbox.js";
import { FLOVI_API, pauseFloviApi } from "./reconcile.js";
import { writeSameStatusEvent } from "./side-event.js";

const DETAIL_FIELDS = ["reservationType", "schedule", "route", "origin", "destination", "vehicle"] as const;

export type EnrichOutcome = "enriched" | "unchanged" | "unavailable" | "disabled";

/** Thrown to have the job retried later (rate limited, or a transient failure). */
export class EnrichLater extends Error {}

/** The reservation's details as events carry them: the documented fields the API returned, nothing else. */
function reservationDetails(found: FloviReservation): Record<string, unknown> {
  const source = found as Record<string, unknown>;
  return Object.fromEntries(DETAIL_FIELDS.filter((k) => source[k] !== undefined && source[k] !== null).map((k) => [k, source[k]]));
}

export async function enrichReservation(
  deps: { db: Database; client: FloviClient; log: Logger; onCommitted?: (committed: Committed) => void },
  id: string,
): Promise<EnrichOutcome> {
  if (!deps.client.enabled) return "disabled";
  const pausedUntil = await providerPausedUntil(deps.db, FLOVI_API);
  if (pausedUntil) throw new EnrichLater(`flovi look-ups paused until ${pausedUntil.toISOString()}`);
  let details: Record<string, unknown> | null = null;
  let unavailable: string | null = null;
  try {
    details = reservationDetails(await deps.client.getReservation(id));
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    const fields = { reservationId: id, ...error.logFields };
    if (error.kind === "rate_limited") {
      const until = await pauseFloviApi(deps.db, error);
      throw new EnrichLater(`rate limited until ${until.toISOString()}`);
    }
    if (error.kind !== "not_found" && error.kind !== "forbidden") {
      deps.log.warn(fields, "flovi reservation details look-up failed; retried later");
      throw new EnrichLater(`${error.code}: ${error.message}`);
    }
    deps.log.warn(fields, "flovi will not tell this reservation's details; events go on without them");
    unavailable = `${error.code}: ${error.message}`.slice(0, 500);
  }
  const outcome = await withTransaction(deps.db, async (sql) => {
    await lockReservations(sql, [id]);
    const [current] = await loadReservationSnapshots(sql, [id]);
    if (!current) return { kind: "unavailable" as const };
    if (details === null || Object.keys(details).length === 0) {
      await storeReservationDetailsIn(sql, id, null, unavailable ?? "no details in the answer");
      return { kind: "unavailable" as const };
    }
    const known = current.details ?? {};
    await storeReservationDetailsIn(sql, id, details, null);
    if (DETAIL_FIELDS.every((k) => isDeepStrictEqual(known[k], details![k]))) return { kind: "unchanged" as const };
    const committed = await writeSameStatusEvent(
      sql,
      { ...current, details: { ...known, ...details } },
      {
        type: "updated",
        details: { updated: DETAIL_FIELDS.filter((k) => details![k] !== undefined) },
        dedupeKey: `flovi:details:${id}:${current.sequence + 1}`,
      },
    );
    return { kind: "enriched" as const, committed };
  });
  if (outcome.kind === "enriched") {
    deps.onCommitted?.(outcome.committed);
    return "enriched";
  }
  return outcome.kind;
}
