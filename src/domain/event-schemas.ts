// The building blocks of the event catalog (./event-catalog.ts): the schemas of `data.details` per entity, and
// the envelope every event type shares, narrowed per type.
import { z } from "zod";
import { moneySchema, pricedSchema } from "./money.js";
import { CANCELLATION_REASONS, RESERVATION_STATES } from "./reservation.js";
import { TRACKING_STOP_REASON_WORDS } from "./tracking-stop.js";

const PHASES = ["booked", "assigned", "in_transit", "completed", "exception", "cancelled"] as const;
export const SHIPMENT_STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "exception", "delivered"] as const;
const isoTime = z.iso.datetime({ offset: true });
const anyObject = z.record(z.string(), z.unknown());

// --- details, per entity ------------------------------------------------------------------------------

/** What the Flovi Partner API tells of a reservation (fetched once, carried by every later event). */
const reservationFacts = {
  reservationType: z.string().optional().describe("Partner API: officeToOffice, homeDelivery, serviceDrive, purchaseCar, replacementCar"),
  schedule: z
    .looseObject({
      departAtEarliest: isoTime.optional(),
      departAtLatest: isoTime.optional(),
      arriveAtEarliest: isoTime.optional(),
      arriveAtLatest: isoTime.optional(),
    })
    .optional()
    .describe("Partner API: the pickup and delivery windows"),
  route: z
    .looseObject({ distanceMeters: z.number().optional(), durationSeconds: z.number().optional() })
    .optional()
    .describe("Partner API: distance and duration"),
  origin: anyObject.optional().describe("Partner API: where the car is picked up (officeId or address, lat, lng)"),
  destination: anyObject.optional().describe("Partner API: where it is delivered"),
  vehicle: anyObject.optional().describe("Partner API: the vehicle (make, model, fuel type, …)"),
  vehicles: z.array(z.unknown()).optional().describe("the webhook's vehicle list, as Flovi sent it"),
  price: pricedSchema.optional().describe("Partner API: the billed price with its breakdown (not the final costs)"),
  priceRaw: anyObject.optional().describe("the Partner API's price fields as sent, when they could not be read as money"),
  cancellationReason: z
    .string()
    .nullable()
    .optional()
    .describe(`why it was cancelled: Flovi's word (documented: ${CANCELLATION_REASONS.join(", ")}); null when Flovi gave none`),
  source: z.literal("reconciliation").optional().describe("present when the state was learnt from the Partner API, not from a webhook"),
};

export const reservationDetails = z.strictObject(reservationFacts);
export const finalCostsDetails = z.strictObject({
  ...reservationFacts,
  finalCosts: pricedSchema.optional().describe("the final costs as money, with the breakdown when Flovi sent one"),
  finalCostsRaw: anyObject.optional().describe("the webhook's cost fields as sent, when no total with a currency could be read"),
});
export const reservationUpdatedDetails = z.strictObject({
  ...reservationFacts,
  updated: z.array(z.string()).min(1).describe("which details arrived or changed (reservationType, schedule, …, cancellationReason)"),
});
export const overdueDetails = z.strictObject({
  ...reservationFacts,
  sealedAt: isoTime.describe("when the reservation was sealed"),
  overdueAfterMs: z.number().int().positive().describe("FLOVI_FINAL_COSTS_OVERDUE_MS at the time"),
});

const shipmentFacts = {
  carrier: z.string().optional().describe("MFB's carrier code for the order's offer"),
  product: z.string().optional().describe("MFB's product code"),
  price: moneySchema.optional().describe("the order's total price (VAT included), from MFB's total_price"),
};
const exceptionReason = z.string().nullable().describe("MFB's details.code for the exception (documented: not_available_or_closed); null when it gave none");

export const trackingEventDetails = z.strictObject({
  parcelIndex: z.number().int().nonnegative().describe("which parcel of the order (MFB's parcel_index, from 0)"),
  code: z.string().describe("MFB's event code (documented codes, `unknown`, or one added later)"),
  label: z.string().describe("the English label (for `unknown`, the carrier's own message)"),
  labels: z.record(z.string(), z.string()).describe("the label in every language MFB sent"),
  location: anyObject.optional().describe("where it happened (name, city, postal_code, state, country), as MFB sent it"),
  carrierDetails: z.unknown().optional().describe("MFB's details node, as sent"),
  exceptionReason: exceptionReason.optional().describe("on delivery_exception only: MFB's details.code (not_available_or_closed), or null"),
  happenedAt: isoTime.describe("the carrier's time of the event"),
  happenedAtRaw: z.string().describe("that time exactly as MFB sent it"),
  ...shipmentFacts,
});
export const shipmentStatusDetails = z.strictObject({
  parcels: z
    .array(z.strictObject({ parcelIndex: z.number().int().nonnegative(), status: z.enum(SHIPMENT_STATUSES), code: z.string() }))
    .describe("each parcel's status and latest code"),
  parcelCount: z.number().int().positive().optional().describe("how many parcels the order has (from GET /orders/:id)"),
  exceptionReason: exceptionReason.optional().describe("on shipment.exception only"),
  ...shipmentFacts,
});
const stopFacts = {
  reason: z.enum(TRACKING_STOP_REASON_WORDS).describe("why polling ended: see the table of reasons"),
  message: z.string().describe("the same, for people, with the provider's answer"),
};
export const shipmentStoppedDetails = z.strictObject({ ...stopFacts, ...shipmentFacts });

const rentalFacts = {
  bookingCode: z.string().describe("GreenFlow's booking_code (also data.entityId)"),
  localNumber: z.string().nullable().describe("GreenFlow's local_number (also data.externalId)"),
};
export const rentalStatusDetails = z.strictObject({
  ...rentalFacts,
  gdsStatus: z.string().nullable().describe("gds.status as GreenFlow sent it"),
  previousGdsStatus: z.string().nullable().optional().describe("present when gds.status changed"),
  changed: z.enum(["status", "gds_status"]).describe("what changed: the booking's status, or its GDS status alone"),
  pickupDate: z.string().nullable().describe("as GreenFlow sent it (local time, no offset)"),
  dropoffDate: z.string().nullable().describe("as GreenFlow sent it"),
  pickupAt: isoTime.nullable().describe("pickupDate read in timeZone, as an instant"),
  dropoffAt: isoTime.nullable().describe("dropoffDate read in timeZone"),
  timeZone: z.string().describe("the IANA zone the dates were read in (the registration's, else GREENFLOW_TIME_ZONE)"),
  undocumentedStatus: z.literal(true).optional().describe("present when GreenFlow's status is a word its documentation does not define"),
});
export const rentalStoppedDetails = z.strictObject({ ...stopFacts, ...rentalFacts });

// --- envelopes ------------------------------------------------------------------------------------------

export type Entity = "reservation" | "shipment" | "rental" | "subscription" | "hub";
export const SOURCES = {
  reservation: "flovi",
  shipment: "myflyingbox",
  rental: "greenflow",
  subscription: "logistics-event-hub",
  hub: "logistics-event-hub",
} as const;

export function envelope(entity: Entity, type: string | RegExp, status: z.ZodType<string>, details: z.ZodType, timeSource: z.ZodType<string>) {
  return z.strictObject({
    specversion: z.literal("1.0"),
    id: z.uuid().describe("unique; stable across retries and replays (also the webhook-id header)"),
    source: z.literal(SOURCES[entity]),
    type: typeof type === "string" ? z.literal(type) : z.string().regex(type),
    subject: z.string().startsWith(`${entity}/`).describe("<entity>/<entityId>"),
    time: isoTime.describe("when it happened; data.timeSource says whose clock"),
    datacontenttype: z.literal("application/json"),
    data: z.strictObject({
      entity: z.literal(entity),
      entityId: z.string().min(1),
      externalId: z.string().nullable().describe("the partner's own reference, where known"),
      status,
      previousStatus: z.string().nullable(),
      phase: z.enum(PHASES),
      providerStatus: z.string(),
      sequence: z.number().int().positive().describe("increases by one per entity: order and de-duplicate by it"),
      timeSource,
      details,
    }),
  });
}

export const provider = z.literal("provider");
export const hub = z.literal("hub");
export const either = z.enum(["provider", "hub"]);
export const reservationState = z.enum(RESERVATION_STATES);

export interface CatalogEntry {
  type: string;
  entity: Entity;
  /** When it is emitted, in a sentence or two. */
  when: string;
  /** What `time` is for this type. */
  time: string;
  schema: z.ZodType;
  /** `data.details` of the example (the rest of the envelope is filled in). */
  exampleDetails: Record<string, unknown>;
  exampleStatus: string;
  examplePrevious: string | null;
  exampleTimeSource: "provider" | "hub";
}
