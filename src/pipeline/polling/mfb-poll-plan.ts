// Pure: what one MFB poll means, given the order as locked, the carrier events new to this poll and every
// stored one: the parcels' and the order's statuses, the events to emit, and when to poll next (or stop).
// ./mfb-poller.ts does the I/O around it.
import type { LockedMfbOrder, MfbPollResult, StoredTrackingEvent } from "../../db/mfb-polls.js";
import type { NewEvent } from "../../domain/events.js";
import { englishLabel, foldParcels, isFinal, statusOfCode, type ShipmentStatus } from "../../providers/mfb/tracking.js";
import { trackingStoppedEvent } from "../../domain/tracking-stop.js";
import type { PollOutcome, PollSettings } from "./failures.js";
import { shipmentFacts } from "./stop.js";
import { nextPollDelayMs } from "./schedule.js";

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
