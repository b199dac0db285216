// One poll of one MFB order: fetch tracking, store the carrier events not seen before, fold the parcels
// into the order's status, write the events to the outbox, and set the next poll time — in one transaction.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { writeEvents } from "../../db/outbox.js";
import { providerPausedUntil } from "../../db/provider-state.js";
import { withTransaction, type Sql } from "../../db/sql.js";
import { findMfbOrder, updatePollState } from "../../db/tracked-items.js";
import { insertTrackingEvents, lockMfbOrder, saveMfbOrderDetails, saveMfbPoll, trackingEventsOf, upsertParcels } from "../../db/mfb-polls.js";
import type { MfbClient, MfbOrderDetails, MfbTracking } from "../../providers/mfb/client.js";
import type { ParcelTracking } from "../../providers/mfb/tracking.js";
import { ProviderError } from "../../providers/provider-error.js";
import { type PollFailureStore, type PollOutcome, type PollSettings, pollFailureStore, recordPollFailure } from "./failures.js";
import { planTrackingPoll } from "./mfb-poll-plan.js";

export const MFB = "mfb" as const;

/**
 * What one MFB poll needs of the database, and nothing more: a unit test gives it a fake, the worker
 * `mfbPollStore(db)`.
 */
export interface MfbPollStore {
  order(orderId: string): Promise<{ active: boolean; consecutiveFailures: number; detailsFetchedAt: Date | null } | null>;
  /** Until when MFB polling is paused (refused credentials), or null. */
  pausedUntil(): Promise<Date | null>;
  /** The order's next poll, not before `at` (while MFB is paused). */
  pollNotBefore(orderId: string, at: Date): Promise<void>;
  saveDetails(orderId: string, details: MfbOrderDetails): Promise<void>;
  /** In one transaction under the order's lock: store the new carrier events, apply the plan, write its events. */
  applyTracking(orderId: string, parcels: ParcelTracking[], settings: PollSettings): Promise<PollOutcome>;
  failures: PollFailureStore;
}

export function mfbPollStore(db: Database): MfbPollStore {
  return {
    order: (orderId) => findMfbOrder(db, orderId),
    pausedUntil: () => providerPausedUntil(db, MFB),
    pollNotBefore: (orderId, at) => updatePollState(db, MFB, orderId, { nextPollAt: at }),
    saveDetails: (orderId, d) =>
      saveMfbOrderDetails(db, orderId, { parcelCount: d.parcelCount, carrier: d.carrier, product: d.product, productName: d.productName, price: d.price }),
    applyTracking: (orderId, parcels, settings) => withTransaction(db, (sql) => applyTracking(sql, orderId, parcels, settings)),
    failures: pollFailureStore(db),
  };
}

export async function pollMfbOrder(
  deps: { store: MfbPollStore; client: MfbClient; log: Logger; settings: PollSettings },
  orderId: string,
): Promise<PollOutcome> {
  const { store, log, settings } = deps;
  const order = await store.order(orderId);
  if (!order?.active) return { kind: "skipped", reason: order ? "inactive" : "unknown" };
  const pausedUntil = await store.pausedUntil();
  if (pausedUntil) {
    await store.pollNotBefore(orderId, pausedUntil);
    return { kind: "paused", until: pausedUntil };
  }

  const item = {
    provider: MFB,
    key: orderId,
    failures: order.consecutiveFailures,
    notFoundReason: "not_found" as const,
    authMessage: "MFB REFUSED OUR CREDENTIALS: all MFB polling paused; check MFB_LOGIN / MFB_PASSWORD",
  };
  let tracking: MfbTracking;
  try {
    // The order itself, once: its parcel count decides when it is delivered; carrier and product go into events.
    if (!order.detailsFetchedAt) await fetchOrderDetails(deps, orderId);
    tracking = await deps.client.getTracking(orderId);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return recordPollFailure({ store: store.failures, log, settings }, item, await refineAccessDenied(deps.client, error));
  }
  if (tracking.skipped > 0) log.warn({ orderId, skipped: tracking.skipped }, "mfb tracking events without a code or a readable time were left out");

  const outcome = await store.applyTracking(orderId, tracking.parcels, settings);
  if (outcome.kind === "polled" && outcome.newEvents > 0) log.info({ orderId, newEvents: outcome.newEvents, status: outcome.status }, "mfb tracking updated");
  if (outcome.kind === "stopped") log.warn({ orderId, reason: outcome.reason }, "mfb order stopped: no tracking movement");
  return outcome;
}

/**
 * MFB answers access_denied both for bad credentials and for an order of another account. GET / tells them
 * apart: when it is refused too, the credentials failed (every poll pauses); when it succeeds, only this order
 * is out of reach (it stops, with the reason).
 */
async function refineAccessDenied(client: MfbClient, error: ProviderError): Promise<ProviderError> {
  if (error.kind !== "access_denied") return error;
  let credentialsWork: boolean;
  try {
    credentialsWork = await client.checkCredentials();
  } catch (check) {
    return check instanceof ProviderError ? check : error;
  }
  return credentialsWork
    ? new ProviderError("forbidden", error.httpStatus, `${error.message} (our credentials work: this order belongs to another account or is not ours to read)`)
    : new ProviderError("auth", error.httpStatus, error.message);
}

async function fetchOrderDetails(deps: { store: MfbPollStore; client: MfbClient; log: Logger }, orderId: string) {
  let details: MfbOrderDetails;
  try {
    details = await deps.client.getOrder(orderId);
  } catch (error) {
    // Not knowing the details yet does not stop tracking: a passing failure is tried again next poll.
    if (error instanceof ProviderError && (error.kind === "transient" || error.kind === "unexpected" || error.kind === "rate_limited")) {
      deps.log.warn({ orderId, err: error.message }, "mfb order details not available yet");
      return;
    }
    throw error;
  }
  await deps.store.saveDetails(orderId, details);
}

/** I/O: lock the order, store what MFB reported, apply the pure plan, write its events and the order. */
async function applyTracking(sql: Sql, orderId: string, parcels: ParcelTracking[], settings: PollSettings): Promise<PollOutcome> {
  const order = await lockMfbOrder(sql, orderId);
  if (!order?.active) return { kind: "skipped", reason: "inactive" };

  // Store every event in one statement; the unique key (order, parcel, code, time, fingerprint) tells which are new.
  const reported = parcels.flatMap((p) =>
    p.events.map((e) => ({
      parcelIndex: p.parcel_index,
      code: e.code,
      happenedAt: e.happenedAt,
      happenedAtRaw: e.happenedAtRaw,
      label: e.label,
      location: e.location,
      details: e.details,
    })),
  );
  const fresh = (await insertTrackingEvents(sql, orderId, reported)).map(({ index, fingerprint }) => ({ ...reported[index]!, fingerprint }));
  const plan = planTrackingPoll({ orderId, order, fresh, stored: await trackingEventsOf(sql, orderId), settings, now: new Date() });

  if (fresh.length > 0) await upsertParcels(sql, orderId, plan.parcels);
  await writeEvents(sql, plan.events);
  await saveMfbPoll(sql, orderId, plan.order);
  return plan.outcome;
}
