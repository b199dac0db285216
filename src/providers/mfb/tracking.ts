// MFB tracking events and how they fold into one normalized shipment status.
import { z } from "zod";

// MFB: "many attributes are optional and when we get some non-standard information we try to forward it
// nevertheless. Make sure that your implementation fits this flexibility." So each event is read on its own:
// only a code and a time are needed; a missing or null label, location or details, a time without offset,
// or fields nobody documented never make the response (or the other events) unreadable.
const label = z.record(z.string(), z.string());

const rawEvent = z
  .object({
    code: z.string().min(1),
    happened_at: z.string().min(1),
    label: label.nullish(),
    location: z.record(z.string(), z.unknown()).nullish(),
    details: z.unknown().optional(),
  })
  .passthrough();

export interface TrackingEvent {
  code: string;
  happenedAt: Date;
  /** The time exactly as MFB sent it (kept when it had no offset and was read as UTC). */
  happenedAtRaw: string;
  label: Record<string, string>;
  location?: Record<string, unknown>;
  details?: unknown;
}

export interface ParcelTracking {
  parcel_index: number;
  events: TrackingEvent[];
}

const OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

/** ISO 8601 with an offset as is; without one, read as UTC (documented in the README); anything else: null. */
export function parseHappenedAt(raw: string): Date | null {
  const text = raw.trim().replace(" ", "T");
  const date = new Date(OFFSET.test(text) ? text : `${text}Z`);
  return Number.isFinite(date.getTime()) ? date : null;
}

/** Reads the `data` array; returns the parcels and how many events had to be skipped (no code, or no readable time). */
export function readTracking(data: unknown): { parcels: ParcelTracking[]; skipped: number } | null {
  if (!Array.isArray(data)) return null;
  let skipped = 0;
  const parcels: ParcelTracking[] = [];
  for (const entry of data) {
    const index = (entry as { parcel_index?: unknown } | null)?.parcel_index;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0) {
      skipped += Array.isArray((entry as { events?: unknown[] } | null)?.events) ? (entry as { events: unknown[] }).events.length : 0;
      continue;
    }
    const events: TrackingEvent[] = [];
    for (const candidate of Array.isArray((entry as { events?: unknown }).events) ? (entry as { events: unknown[] }).events : []) {
      const parsed = rawEvent.safeParse(candidate);
      const at = parsed.success ? parseHappenedAt(parsed.data.happened_at) : null;
      if (!parsed.success || !at) {
        skipped += 1;
        continue;
      }
      events.push({
        code: parsed.data.code,
        happenedAt: at,
        happenedAtRaw: parsed.data.happened_at,
        label: parsed.data.label ?? {},
        ...(parsed.data.location ? { location: parsed.data.location } : {}),
        ...(parsed.data.details !== undefined && parsed.data.details !== null ? { details: parsed.data.details } : {}),
      });
    }
    parcels.push({ parcel_index: index, events });
  }
  return { parcels, skipped };
}

const SHIPMENT_STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "exception", "delivered"] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

/** Documented codes → normalized status. `unknown` and codes added later map to nothing: they change no status. */
const CODE_STATUS: Record<string, ShipmentStatus> = {
  shipment_created: "created",
  picked_up: "picked_up",
  departed_from_facility: "in_transit",
  arrived_at_facility: "in_transit",
  at_departure_hub: "in_transit",
  in_transit: "in_transit",
  at_arrival_hub: "in_transit",
  delivery_in_progress: "out_for_delivery",
  delivery_exception: "exception",
  delivered: "delivered",
};

export function statusOfCode(code: string): ShipmentStatus | null {
  return CODE_STATUS[code] ?? null;
}

const PROGRESS: Record<Exclude<ShipmentStatus, "exception">, number> = {
  created: 1,
  picked_up: 2,
  in_transit: 3,
  out_for_delivery: 4,
  delivered: 5,
};

/**
 * The order's status from its parcels' statuses: `exception` while any parcel's latest status is an
 * exception; otherwise the least advanced parcel (an order is delivered when its last parcel is). When the
 * order's parcel count is known, a parcel with no event yet counts as `created`.
 */
export function foldParcels(statuses: readonly ShipmentStatus[], parcelCount: number | null = null): ShipmentStatus | null {
  if (statuses.length === 0) return null;
  if (statuses.includes("exception")) return "exception";
  const all = parcelCount !== null && parcelCount > statuses.length ? [...statuses, "created" as const] : statuses;
  return all.reduce((least, s) => (PROGRESS[s as keyof typeof PROGRESS] < PROGRESS[least as keyof typeof PROGRESS] ? s : least));
}

/**
 * Final: every parcel delivered. With the order's parcel count known, that many parcels must have said so
 * (tracking may leave some out); without it, every parcel tracking knows. An exception keeps being polled.
 */
export function isFinal(statuses: readonly ShipmentStatus[], parcelCount: number | null = null): boolean {
  if (parcelCount !== null && statuses.length < parcelCount) return false;
  return statuses.length > 0 && statuses.every((s) => s === "delivered");
}

/** English label (always present per MFB), else any language, else the code. */
export function englishLabel(event: Pick<TrackingEvent, "label" | "code">): string {
  return event.label.en ?? Object.values(event.label)[0] ?? event.code;
}
