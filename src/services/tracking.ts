// Tracked MFB orders and GreenFlow bookings as operators and the API see them: register (or resume), read,
// stop. Registration queues the first poll at once; the rules for when a registration resumes polling live
// here, the rows in db/tracked-items.ts.
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import { providerStatus } from "../config/providers.js";
import { audited } from "../db/audit.js";
import type { Database } from "../db/client.js";
import { entityEvents } from "../db/events.js";
import {
  findGreenflowBooking,
  findMfbOrder,
  findTracked,
  insertGreenflowBooking,
  insertMfbOrder,
  resumeGreenflowBooking,
  resumeMfbOrder,
  setGreenflowTimeZone,
  setMfbReference,
  updatePollState,
  type GreenflowBooking,
  type MfbOrder,
  type TrackedKind,
} from "../db/tracked-items.js";
import { mfbOrderRecord } from "../db/mfb-polls.js";
import { mfbMoney } from "../domain/money.js";
import { stopTracking } from "../pipeline/polling/stop.js";
import type { Queues } from "../queues/queues.js";

export interface TrackingDeps {
  db: Database;
  log: Logger;
  config: Config;
  queues: Queues;
}

/** The sweep's lease for an item queued at registration: if the queue misses it, the sweep gets it after this. */
const REGISTRATION_LEASE_MS = 30_000;

export type Registration = "create" | "resume" | "update_reference" | "update_time_zone" | "unchanged";

/** Pure: what registering an MFB order does, given what is stored. A delivered order stays stopped. */
export function mfbRegistration(existing: Pick<MfbOrder, "active" | "stoppedReason" | "reference"> | null, reference?: string): Registration {
  if (!existing) return "create";
  if (!existing.active && existing.stoppedReason !== "delivered") return "resume";
  if (reference && reference !== existing.reference) return "update_reference";
  return "unchanged";
}

/** Pure: a corrected lastname, an operator's stop undone, or a booking GreenFlow did not find polls again. */
export function greenflowRegistration(
  existing: Pick<GreenflowBooking, "active" | "stoppedReason" | "lastname" | "timeZone"> | null,
  lastname: string,
  timeZone?: string,
): Registration {
  if (!existing) return "create";
  const retry =
    existing.lastname !== lastname ||
    (!existing.active && existing.stoppedReason === "stopped_by_operator") ||
    existing.stoppedReason === "not_found" ||
    existing.stoppedReason === "gone";
  if (retry) return "resume";
  return timeZone && timeZone !== existing.timeZone ? "update_time_zone" : "unchanged";
}

function pollingView(item: MfbOrder | GreenflowBooking) {
  return {
    active: item.active,
    quietPolls: item.quietPolls,
    lastPolledAt: item.lastPolledAt,
    nextPollAt: item.nextPollAt,
    consecutiveFailures: item.consecutiveFailures,
    lastError: item.lastError,
    stoppedReason: item.stoppedReason,
    stoppedAt: item.stoppedAt,
  };
}

async function statusHistory(db: Database, entity: "shipment" | "rental", entityId: string) {
  const events = await entityEvents(db, entity, entityId, { statusOnly: true });
  return events.map((e) => {
    const data = e.data as unknown as { status: string; previousStatus: string | null; sequence: number; providerStatus: string };
    return {
      eventId: e.id,
      status: data.status,
      previousStatus: data.previousStatus,
      providerStatus: data.providerStatus,
      sequence: data.sequence,
      time: e.time,
    };
  });
}

export async function mfbOrderView(db: Database, orderId: string) {
  const order = await mfbOrderRecord(db, orderId);
  if (!order) return null;
  return {
    orderId: order.id,
    reference: order.reference,
    status: order.status,
    sequence: order.sequence,
    // From GET /orders/:id (null until fetched): how many parcels must be delivered, carrier, product, price.
    // The price as money (as events carry it), and MFB's price hash as sent.
    order: {
      parcelCount: order.parcelCount,
      carrier: order.carrier,
      product: order.product,
      productName: order.productName,
      price: mfbMoney(order.price),
      priceAsSent: order.price,
    },
    parcels: order.parcels.map((p) => ({
      parcelIndex: p.parcelIndex,
      status: p.status,
      lastCode: p.lastCode,
      lastEventAt: p.lastEventAt,
      events: order.events
        .filter((e) => e.parcelIndex === p.parcelIndex)
        .map((e) => ({ code: e.code, happenedAt: e.happenedAt, label: e.label, location: e.location, details: e.details })),
    })),
    unassignedEvents: order.events
      .filter((e) => !order.parcels.some((p) => p.parcelIndex === e.parcelIndex))
      .map((e) => ({ parcelIndex: e.parcelIndex, code: e.code, happenedAt: e.happenedAt, label: e.label })),
    history: await statusHistory(db, "shipment", order.id),
    polling: pollingView(order),
    createdAt: order.createdAt,
  };
}

export async function greenflowBookingView(db: Database, code: string) {
  const booking = await findGreenflowBooking(db, code);
  if (!booking) return null;
  return {
    bookingCode: booking.bookingCode,
    localNumber: booking.localNumber,
    // The code it was registered by (its booking code or its local number).
    registeredAs: booking.registeredCode,
    uuid: booking.uuid,
    status: booking.status,
    gdsStatus: booking.gdsStatus,
    undocumentedStatus: booking.unknownStatus,
    pickupDate: booking.pickupDate,
    dropoffDate: booking.dropoffDate,
    timeZone: booking.timeZone,
    sequence: booking.sequence,
    history: await statusHistory(db, "rental", booking.bookingCode),
    polling: pollingView(booking),
    createdAt: booking.createdAt,
  };
}

/** Registering while polling is off works (the item waits), but the answer says so. */
export function pollingWarning(config: Config, provider: TrackedKind): { warning?: string } {
  const status = providerStatus(config).find((s) => s.provider === provider)!;
  return status.enabled
    ? {}
    : { warning: `${provider === "mfb" ? "MyFlyingBox" : "GreenFlow"} polling is off: ${status.why}. The item is stored and will be polled once it is set.` };
}

/**
 * A newly registered (or resumed) item is polled at once, not at the next sweep: its poll job is queued now
 * and the sweep's lease pushed out so the two do not both take it. If the queue is unreachable, the sweep
 * polls it when the lease ends.
 */
async function pollNow(deps: TrackingDeps, provider: TrackedKind, key: string) {
  const status = providerStatus(deps.config).find((s) => s.provider === provider)!;
  const item = await findTracked(deps.db, provider, key);
  if (!status.enabled || !item?.active || (item.lastPolledAt && item.nextPollAt && item.nextPollAt > new Date())) return;
  await updatePollState(deps.db, provider, key, { nextPollAt: new Date(Date.now() + REGISTRATION_LEASE_MS) });
  try {
    if (provider === "mfb") await deps.queues.enqueue("pollMfbOrder", { orderId: key });
    else await deps.queues.enqueue("pollGreenflowBooking", { bookingCode: key });
  } catch (error) {
    deps.log.warn({ err: error, provider }, "could not queue the first poll; the sweep will poll it");
  }
}

export async function registerMfbOrder(deps: TrackingDeps, input: { orderId: string; reference?: string }) {
  let change = mfbRegistration(await findMfbOrder(deps.db, input.orderId), input.reference);
  // Two registrations at once: one creates the row, the other finds it and registers as a second one would.
  if (change === "create" && !(await insertMfbOrder(deps.db, input.orderId, input.reference ?? null))) {
    change = mfbRegistration(await findMfbOrder(deps.db, input.orderId), input.reference);
  }
  if (change === "resume") await resumeMfbOrder(deps.db, input.orderId, input.reference);
  else if (change === "update_reference") await setMfbReference(deps.db, input.orderId, input.reference!);
  deps.log.info({ orderId: input.orderId, created: change === "create" }, "mfb order tracked");
  await pollNow(deps, "mfb", input.orderId);
  return { created: change === "create", view: (await mfbOrderView(deps.db, input.orderId))! };
}

export async function registerGreenflowBooking(deps: TrackingDeps, input: { bookingCode: string; lastname: string; timeZone?: string }) {
  // Either code finds the booking once known: registering by the other one is the same booking.
  const existing = await findGreenflowBooking(deps.db, input.bookingCode);
  const key = existing?.bookingCode ?? input.bookingCode;
  let change = greenflowRegistration(existing, input.lastname, input.timeZone);
  if (change === "create" && !(await insertGreenflowBooking(deps.db, key, input.lastname, input.timeZone ?? null))) {
    change = greenflowRegistration(await findGreenflowBooking(deps.db, key), input.lastname, input.timeZone);
  }
  if (change === "resume") await resumeGreenflowBooking(deps.db, key, input.lastname, input.timeZone ?? null);
  else if (change === "update_time_zone") await setGreenflowTimeZone(deps.db, key, input.timeZone!);
  deps.log.info({ bookingCode: key, registeredAs: input.bookingCode, created: change === "create" }, "greenflow booking tracked");
  await pollNow(deps, "greenflow", key);
  return { created: change === "create", view: (await greenflowBookingView(deps.db, key))! };
}

/**
 * An operator's stop: the item stops and subscribers get `<entity>.tracking_stopped` (reason
 * `stopped_by_operator`), with the audit row, in one transaction. The item's key, or null when not tracked.
 */
export async function stopByOperator(deps: Pick<TrackingDeps, "db" | "log">, actor: string, provider: TrackedKind, code: string): Promise<string | null> {
  const item = await findTracked(deps.db, provider, code);
  if (!item) return null;
  const key = "bookingCode" in item ? item.bookingCode : item.id;
  await audited(deps.db, deps.log, async (sql) => {
    const stopped = await stopTracking(sql, { kind: provider, key, reason: "stopped_by_operator", message: `stopped by ${actor}`, lastError: null });
    return { result: stopped, audit: { actor, action: "tracking.stop", target: `${provider}/${key}`, details: { stopped } } };
  });
  return key;
}
