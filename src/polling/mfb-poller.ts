// One poll of one MFB order: fetch tracking, store the carrier events not seen before, fold the parcels
// into the order's status, write the events to the outbox, and set the next poll time — in one transaction.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { writeEvents } from "../db/outbox.js";
import { providerPausedUntil } from "../db/provider-state.js";
import { withTransaction, type Sql } from "../db/sql.js";
import { findMfbOrder, updatePollState } from "../db/tracked-items.js";
import {
  insertTrackingEvents,
  lockMfbOrder,
  saveMfbOrderDetails,
  saveMfbPoll,
  trackingEventsOf,
  upsertParcels,
  type LockedMfbOrder,
  type MfbPollResult,
  type StoredTrackingEvent,
} from "../db/mfb-polls.js";
import type { NewEvent } from "../domain/events.js";
import type { MfbClient, MfbOrderDetails, MfbTracking } from "../providers/mfb/client.js";
import { englishLabel, foldParcels, isFinal, statusOfCode, type ParcelTracking, type ShipmentStatus } from "../providers/mfb/tracking.js";
import { ProviderError } from "../providers/provider-error.js";
import { trackingStoppedEvent } from "../domain/tracking-stop.js";
import { recordPollFailure, type PollOutcome, type PollSettings } from "./failures.js";
import { shipmentFacts } from "./stop.js";
import { nextPollDelayMs } from "./schedule.js";

export const MFB = "mfb" as const;

export async function pollMfbOrder(deps: { db: Database; client: MfbClient; log: Logger; settings: PollSettings }, orderId: string): Promise<PollOutcome> {
  const { db, log, settings } = deps;
  const order = await findMfbOrder(db, orderId);
  if (!order?.active) return { kind: "skipped", reason: order ? "inactive" : "unknown" };
  const pausedUntil = await providerPausedUntil(db, MFB);
  if (pausedUntil) {
    await updatePollState(db, MFB, orderId, { nextPollAt: pausedUntil });
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
    return recordPollFailure(deps, item, await refineAccessDenied(deps.client, error));
  }
  if (tracking.skipped > 0) log.warn({ orderId, skipped: tracking.skipped }, "mfb tracking events without a code or a readable time were left out");

  const outcome = await withTransaction(db, (sql) => applyTracking(sql, orderId, tracking.parcels, settings));
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

async function fetchOrderDetails(deps: { db: Database; client: MfbClient; log: Logger }, orderId: string) {
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
  await saveMfbOrderDetails(deps.db, orderId, {
    parcelCount: details.parcelCount,
    carrier: details.carrier,
    product: details.product,
    productName: details.productName,
    price: details.price,
  });
}

/** MFB's reason for a delivery exception (details.code, e.g. not_available_or_closed), or null when it gave none. */
function exceptionReasonOf(details: unknown): string | null {
  const code = (details as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && code.trim() !== "" ? code : null;
}

export interface FreshEvent {
  parcelIndex: number;
  code: string;
  happenedAt: Date;
  happenedAtRaw: string;
  label: Record<string, string>;
  location?: unknown;
  details?: unknown;
  /** Postgres's fingerprint of label, location and details (what tells two messages at one time apart). */
  fingerprint: string;
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

/**
 * Pure: one poll's consequences. Each parcel's status is that of its latest status-bearing stored event
 * (whatever order they arrived in); the order's status is their fold. Every new carrier event becomes a
 * `shipment.tracking_event`, a changed fold a `shipment.<status>`; the next poll is sooner while moving,
 * later while quiet, never once delivered, and a poll that finds nothing new for `staleAfterMs` stops.
 */
export function planTrackingPoll(input: {
  orderId: string;
  order: LockedMfbOrder;
  fresh: FreshEvent[];
  stored: StoredTrackingEvent[];
  settings: PollSettings;
  now: Date;
}): { parcels: { parcelIndex: number; status: string; code: string; at: Date }[]; events: NewEvent[]; order: MfbPollResult; outcome: PollOutcome } {
  const { orderId, order, settings, now } = input;
  const fresh = [...input.fresh].sort((a, b) => a.happenedAt.getTime() - b.happenedAt.getTime() || a.parcelIndex - b.parcelIndex);
  const parcelState = new Map<number, { status: ShipmentStatus; code: string; at: Date; exceptionReason: string | null }>();
  for (const e of input.stored) {
    const status = statusOfCode(e.code);
    if (status)
      parcelState.set(e.parcel_index, { status, code: e.code, at: e.happened_at, exceptionReason: status === "exception" ? (e.detail_code ?? null) : null });
  }
  const statuses = [...parcelState.values()].map((s) => s.status);
  const folded = foldParcels(statuses, order.parcel_count);
  const final = isFinal(statuses, order.parcel_count);
  const shipment = shipmentFacts(order);

  const events: NewEvent[] = [];
  let sequence = order.sequence;
  for (const e of fresh) {
    sequence += 1;
    events.push({
      entity: "shipment",
      entityId: orderId,
      externalId: order.reference,
      type: "tracking_event",
      status: folded ?? "created",
      previousStatus: order.status,
      providerStatus: e.code,
      sequence,
      time: e.happenedAt,
      timeSource: "provider",
      details: {
        parcelIndex: e.parcelIndex,
        code: e.code,
        label: englishLabel(e),
        labels: e.label,
        ...(e.location ? { location: e.location } : {}),
        ...(e.details ? { carrierDetails: e.details } : {}),
        ...(statusOfCode(e.code) === "exception" ? { exceptionReason: exceptionReasonOf(e.details) } : {}),
        happenedAt: e.happenedAt.toISOString(),
        happenedAtRaw: e.happenedAtRaw,
        ...shipment,
      },
      dedupeKey: `mfb:${orderId}:${e.parcelIndex}:${e.code}:${e.happenedAt.toISOString()}:${e.fingerprint}`,
    });
  }
  if (folded && folded !== order.status) {
    sequence += 1;
    const latest = fresh.at(-1);
    events.push({
      entity: "shipment",
      entityId: orderId,
      externalId: order.reference,
      type: folded,
      status: folded,
      previousStatus: order.status,
      providerStatus: latest?.code ?? folded,
      sequence,
      time: latest?.happenedAt ?? now,
      timeSource: latest ? "provider" : "hub",
      details: {
        parcels: [...parcelState].map(([parcelIndex, s]) => ({ parcelIndex, status: s.status, code: s.code })),
        ...(order.parcel_count !== null ? { parcelCount: order.parcel_count } : {}),
        ...(folded === "exception" ? { exceptionReason: [...parcelState.values()].findLast((p) => p.status === "exception")?.exceptionReason ?? null } : {}),
        ...shipment,
      },
      dedupeKey: `mfb:${orderId}:status:${sequence}:${folded}`,
    });
  }

  const moving = folded === "out_for_delivery" || folded === "exception";
  // Nothing new: wait longer next time (up to the ceiling); nothing new for too long: stop, with the reason.
  const quiet = fresh.length === 0 ? order.quiet_polls + 1 : 0;
  const lastMovement = fresh.length > 0 ? now : (order.last_movement_at ?? order.created_at);
  const stale = !final && fresh.length === 0 && now.getTime() - lastMovement.getTime() >= settings.staleAfterMs;
  const stopReason = final ? "delivered" : stale ? "no_movement" : null;
  if (stale) {
    sequence += 1;
    events.push(
      trackingStoppedEvent({
        entity: "shipment",
        entityId: orderId,
        externalId: order.reference,
        status: order.status,
        providerStatus: null,
        sequence,
        reason: "no_movement",
        message: `no new carrier event since ${lastMovement.toISOString()} (MFB_STALE_AFTER_MS is ${settings.staleAfterMs} ms)`,
        at: now,
        details: shipment,
      }),
    );
  }
  return {
    parcels: [...parcelState].map(([parcelIndex, p]) => ({ parcelIndex, ...p })),
    events,
    order: {
      status: folded,
      sequence,
      polledAt: now,
      active: stopReason === null,
      nextPollAt: stopReason ? null : new Date(now.getTime() + nextPollDelayMs(settings.intervalMs, { moving, quiet, ceilingMs: settings.ceilingMs })),
      stoppedReason: stopReason,
      quietPolls: quiet,
      lastMovementAt: fresh.length > 0 ? now : order.last_movement_at,
    },
    outcome: stale ? { kind: "stopped", reason: "no_movement", newEvents: 1 } : { kind: "polled", newEvents: events.length, status: folded, final },
  };
}
