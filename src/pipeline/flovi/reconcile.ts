// Reconciliation for missed webhooks: reservations that are not settled and have been silent for a while
// are looked up in Flovi's Partner API; a newer status there becomes a transition with source
// "reconciliation", written like a webhook's (same plan, same lock), and its event carries what the API
// returned (external id, price, vehicle).
//
// Per reservation, the API's answer decides: 403 (the key may not read this reservation or its store) skips
// it and goes on; 404 (Flovi does not know it) stops looking it up for good, with the reason; 429 ends the
// run and no run starts before the Retry-After it gave (60 s when it gave none); 401 ends the run (the key
// itself is refused); other failures are logged and the reservation is tried again in a later run.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { loadReservationSnapshots, lockReservations, writeReportPlan } from "../../db/reservation-writes.js";
import { withTransaction } from "../../db/sql.js";
import { decideTransition, isReservationState, type ReservationState } from "../../domain/reservation.js";
import { pauseProvider, providerPausedUntil } from "../../db/provider-state.js";
import { markLookedUp, markLookedUpIn, reconcileCandidates } from "../../db/reservations.js";
import type { FloviClient, FloviReservation } from "../../providers/flovi/client.js";
import { ProviderError } from "../../providers/provider-error.js";
import { floviApiPrice } from "../../providers/flovi/costs.js";
import type { Committed } from "./inbox.js";
import { planReports, type Report } from "./plan.js";

/** The API's simplified statuses (confirmed, driving, sealed, cancelled) in webhook terms. */
export const API_STATUS: Record<string, ReservationState> = {
  confirmed: "created",
  driving: "driving",
  sealed: "sealed",
  cancelled: "cancelled",
};

const BATCH = 100;

/**
 * What the Partner API said of a reservation, as a report for the plan: source "reconciliation", its time
 * the moment we learnt it, and one dedupe key per reservation and state, shared by the per-reservation
 * look-up and the list backfill, so a state found both ways is emitted once.
 */
export function apiReport(found: FloviReservation, mapped: ReservationState, now: Date): Report {
  return {
    change: {
      reservationId: found.reservationId,
      externalId: found.externalId ?? null,
      state: mapped,
      cancellationReason: null,
      occurredAt: now,
      costs: null,
      vehicles: found.vehicle ? [found.vehicle] : null,
      warnings: [],
    },
    source: "reconciliation",
    receivedAt: now,
    inboundDeliveryId: null,
    dedupeKey: `flovi:reconciliation:${found.reservationId}:${mapped}`,
    lastPayload: { reconciledStatus: found.status.toLowerCase() },
    requestId: null,
    // What the API returned beside the status: its price is the reservation's billed price, not final costs.
    details: priceDetails(found),
  };
}
/** The API's price (the billed price, not final costs) as money; as sent when it cannot be read as money. */
export function priceDetails(found: FloviReservation): Record<string, unknown> {
  if (found.price === undefined) return {};
  const priced = floviApiPrice(found);
  return priced ? { price: priced } : { priceRaw: { price: found.price, currency: found.currency ?? null, priceBreakdown: found.priceBreakdown ?? null } };
}

export const FLOVI_API = "flovi-api";
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;

/** Flovi answered 429: every Flovi API call (look-ups, backfill, details, overdue) waits until its Retry-After (60 s without one). */
export function pauseFloviApi(db: Database, error: ProviderError): Promise<Date> {
  return pauseProvider(db, FLOVI_API, error.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS, `${error.code}: ${error.message}`);
}

export interface ReconcileResult {
  checked: number;
  updated: number;
  skipped: number;
  stopped: number;
  stoppedBy?: string;
  pausedUntil?: Date;
}

/**
 * What reconciliation needs of the database, and nothing more: a unit test gives it a fake, the worker
 * `reconcileStore(db)`.
 */
export interface ReconcileStore {
  /** Until when Flovi's API is paused (a 429 earlier), or null. */
  pausedUntil(): Promise<Date | null>;
  /** Pauses every Flovi API call after a 429; answers until when. */
  pause(error: ProviderError): Promise<Date>;
  /** Reservations not settled, silent since `cutoff` and not looked up since. */
  candidates(cutoff: Date, limit: number): Promise<string[]>;
  /** Looked up now; with a reason, never again. */
  markLookedUp(id: string, stoppedReason?: string): Promise<void>;
  /**
   * In one transaction under the reservation's lock: marks it looked up and, when the API's state moves it
   * on, writes that transition and its event. Answers what was written, or null.
   */
  applyApiState(id: string, found: FloviReservation, mapped: ReservationState | undefined): Promise<Committed | null>;
}

export function reconcileStore(db: Database): ReconcileStore {
  return {
    pausedUntil: () => providerPausedUntil(db, FLOVI_API),
    pause: (error) => pauseFloviApi(db, error),
    candidates: (cutoff, limit) => reconcileCandidates(db, cutoff, limit),
    markLookedUp: (id, stoppedReason) => markLookedUp(db, id, stoppedReason),
    applyApiState: (id, found, mapped) =>
      withTransaction(db, async (sql) => {
        await lockReservations(sql, [id]);
        await markLookedUpIn(sql, id);
        const [current] = await loadReservationSnapshots(sql, [id]);
        if (!mapped || !current || !isReservationState(current.state) || !decideTransition(current.state, mapped).emits) return null;
        const plan = planReports([apiReport({ ...found, reservationId: id }, mapped, new Date())], [current]);
        const { deliveries, deferred } = await writeReportPlan(sql, plan);
        return { events: plan.events.map((e) => e.envelope), deliveries, deferred };
      }),
  };
}

export async function reconcileReservations(deps: {
  store: ReconcileStore;
  client: FloviClient;
  log: Logger;
  /** Called after each commit with what it emitted (the worker dispatches it). */
  onCommitted?: (committed: Committed) => void;
  silentForMs: number;
}): Promise<ReconcileResult> {
  const { store } = deps;
  const result: ReconcileResult = { checked: 0, updated: 0, skipped: 0, stopped: 0 };
  if (!deps.client.enabled) return result;
  const pausedUntil = await store.pausedUntil();
  if (pausedUntil) return { ...result, stoppedBy: "RATE_LIMITED", pausedUntil };

  const candidates = await store.candidates(new Date(Date.now() - deps.silentForMs), BATCH);
  for (const id of candidates) {
    let found: FloviReservation;
    try {
      found = await deps.client.getReservation(id);
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      const fields = { reservationId: id, ...error.logFields };
      if (error.kind === "rate_limited") {
        const until = await store.pause(error);
        deps.log.warn({ ...fields, pausedUntil: until }, "flovi reconciliation rate limited; resuming after Retry-After");
        return { ...result, stoppedBy: error.code, pausedUntil: until };
      }
      if (error.kind === "auth") {
        deps.log.error(fields, "flovi refused the API key; reconciliation stopped (check FLOVI_API_KEY)");
        return { ...result, stoppedBy: error.code };
      }
      result.checked += 1;
      if (error.kind === "forbidden") {
        // This key may not read this reservation (or its store): the others may still be readable.
        deps.log.warn(fields, "flovi forbids this reservation's look-up; skipped");
        await store.markLookedUp(id);
        result.skipped += 1;
      } else if (error.kind === "not_found") {
        deps.log.warn(fields, "flovi does not know this reservation; it is not looked up again");
        await store.markLookedUp(id, `${error.code}: ${error.message}`.slice(0, 500));
        result.stopped += 1;
      } else {
        deps.log.warn(fields, "flovi reservation look-up failed");
        await store.markLookedUp(id);
      }
      continue;
    }
    result.checked += 1;
    const mapped = API_STATUS[found.status.toLowerCase()];
    const committed = await store.applyApiState(id, found, mapped);
    if (committed) {
      deps.onCommitted?.(committed);
      result.updated += 1;
      deps.log.info({ reservationId: id, status: mapped }, "reservation reconciled from the flovi api");
    }
  }
  return result;
}
