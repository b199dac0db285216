// MFB tracking events and how they fold into one normalized shipment status.
import { z } from "zod";

const label = z.record(z.string(), z.string());

export const trackingEvent = z.object({
  code: z.string().min(1),
  happened_at: z.iso.datetime({ offset: true }),
  label: label.default({}),
  location: z.record(z.string(), z.unknown()).optional(),
  details: z.object({ code: z.string().optional(), label: label.optional() }).passthrough().optional(),
});

export const parcelTracking = z.object({
  parcel_index: z.number().int().min(0),
  events: z.array(trackingEvent).default([]),
});

export const trackingData = z.array(parcelTracking);
export type TrackingEvent = z.infer<typeof trackingEvent>;
export type ParcelTracking = z.infer<typeof parcelTracking>;

export const SHIPMENT_STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "exception", "delivered"] as const;
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
 * exception; otherwise the least advanced parcel (an order is delivered when its last parcel is).
 */
export function foldParcels(statuses: readonly ShipmentStatus[]): ShipmentStatus | null {
  if (statuses.length === 0) return null;
  if (statuses.includes("exception")) return "exception";
  return statuses.reduce((least, s) => (PROGRESS[s as keyof typeof PROGRESS] < PROGRESS[least as keyof typeof PROGRESS] ? s : least));
}

/** Final: every known parcel delivered. Parcels in delivery_exception keep being polled. */
export function isFinal(statuses: readonly ShipmentStatus[]): boolean {
  return statuses.length > 0 && statuses.every((s) => s === "delivered");
}

/** English label (always present per MFB), else any language, else the code. */
export function englishLabel(event: Pick<TrackingEvent, "label" | "code">): string {
  return event.label.en ?? Object.values(event.label)[0] ?? event.code;
}
