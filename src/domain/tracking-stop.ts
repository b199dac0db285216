// When polling of an MFB order or a GreenFlow booking ends before a final status, subscribers hear it:
// `<entity>.tracking_stopped`, with one word saying why (the same word the tracking API shows as
// `polling.stoppedReason`) and a sentence for people. Reaching a final status (delivered, cancelled, …) is
// not a stop: its own event already says everything.
import type { NewEvent, Phase } from "./events.js";
import { phaseOf } from "./events.js";

/** Every way tracking stops short of a final status, with what it means (docs/events.md is generated from this). */
export const TRACKING_STOP_REASONS = {
  not_found: "the provider does not know the item: a wrong id, or (GreenFlow) a wrong lastname or another tenant's booking, on the first read",
  access_denied: "the item exists but belongs to another account (MFB's access_denied while our credentials work)",
  no_movement: "no new carrier event for MFB_STALE_AFTER_MS",
  gone: "GreenFlow answered 404 for a booking it had shown before (cancelled and removed, or its lastname changed)",
  stopped_by_operator: "an operator stopped it (DELETE on the tracking API)",
} as const;

export type TrackingStopReason = keyof typeof TRACKING_STOP_REASONS;
export const TRACKING_STOP_REASON_WORDS = Object.keys(TRACKING_STOP_REASONS) as [TrackingStopReason, ...TrackingStopReason[]];

/** An item stopped before anything was read has no status: it says `unknown`, in phase `exception`. */
const UNKNOWN_STATUS = "unknown";

export interface StoppedItem {
  entity: "shipment" | "rental";
  entityId: string;
  externalId: string | null;
  /** The status the item was left in (null when nothing was ever read). */
  status: string | null;
  /** The item's sequence after the stop (the event's own). */
  sequence: number;
  /** The provider's own word for that status, when known. */
  providerStatus: string | null;
  reason: TrackingStopReason;
  /** What the provider answered, for people (no personal data). */
  message: string;
  at: Date;
  details?: Record<string, unknown>;
}

/** Pure: the event that tells subscribers polling ended. */
export function trackingStoppedEvent(item: StoppedItem): NewEvent {
  const status = item.status ?? UNKNOWN_STATUS;
  const phase: Phase = item.status === null ? "exception" : phaseOf(item.entity, item.status);
  return {
    entity: item.entity,
    entityId: item.entityId,
    externalId: item.externalId,
    type: "tracking_stopped",
    status,
    previousStatus: item.status,
    phase,
    providerStatus: item.providerStatus ?? status,
    sequence: item.sequence,
    time: item.at,
    timeSource: "hub",
    details: { ...item.details, reason: item.reason, message: item.message },
    dedupeKey: `${item.entity}:${item.entityId}:tracking_stopped:${item.sequence}`,
  };
}
