// The event catalog: one zod schema per event type (envelope, data and data.details), with what it means,
// when it is emitted, what its `time` is, and an example. Every event the hub writes is built through
// `createEvent`, which checks it against its type's schema; GET /schemas/events.json serves the catalog as
// JSON Schema and docs/events.md is generated from it (npm run docs:events), so neither can drift from the code.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { buildEnvelope, type CloudEvent, type NewEvent } from "./events.js";
import { moneySchema, pricedSchema } from "./money.js";
import { CANCELLATION_REASONS, RESERVATION_STATES } from "./reservation.js";
import { TRACKING_STOP_REASON_WORDS } from "./tracking-stop.js";

const PHASES = ["booked", "assigned", "in_transit", "completed", "exception", "cancelled"] as const;
const SHIPMENT_STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "exception", "delivered"] as const;
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

const reservationDetails = z.strictObject(reservationFacts);
const finalCostsDetails = z.strictObject({
  ...reservationFacts,
  finalCosts: pricedSchema.optional().describe("the final costs as money, with the breakdown when Flovi sent one"),
  finalCostsRaw: anyObject.optional().describe("the webhook's cost fields as sent, when no total with a currency could be read"),
});
const reservationUpdatedDetails = z.strictObject({
  ...reservationFacts,
  updated: z.array(z.string()).min(1).describe("which details arrived or changed (reservationType, schedule, …, cancellationReason)"),
});
const overdueDetails = z.strictObject({
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

const trackingEventDetails = z.strictObject({
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
const shipmentStatusDetails = z.strictObject({
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
const shipmentStoppedDetails = z.strictObject({ ...stopFacts, ...shipmentFacts });

const rentalFacts = {
  bookingCode: z.string().describe("GreenFlow's booking_code (also data.entityId)"),
  localNumber: z.string().nullable().describe("GreenFlow's local_number (also data.externalId)"),
};
const rentalStatusDetails = z.strictObject({
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
const rentalStoppedDetails = z.strictObject({ ...stopFacts, ...rentalFacts });

// --- envelopes ------------------------------------------------------------------------------------------

type Entity = "reservation" | "shipment" | "rental" | "subscription" | "hub";
const SOURCES = {
  reservation: "flovi",
  shipment: "myflyingbox",
  rental: "greenflow",
  subscription: "logistics-event-hub",
  hub: "logistics-event-hub",
} as const;

function envelope(entity: Entity, type: string | RegExp, status: z.ZodType<string>, details: z.ZodType, timeSource: z.ZodType<string>) {
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

const provider = z.literal("provider");
const hub = z.literal("hub");
const either = z.enum(["provider", "hub"]);
const reservationState = z.enum(RESERVATION_STATES);

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

const RESERVATION_TIME =
  "Flovi's time of the change when the webhook carried a usable one (`timeSource: provider`); otherwise when the hub received it or, for states learnt from the Partner API, when it looked them up (`timeSource: hub`)";
const apiFacts = {
  reservationType: "homeDelivery",
  schedule: {
    departAtEarliest: "2026-06-20T09:00:00Z",
    departAtLatest: "2026-06-20T11:00:00Z",
    arriveAtEarliest: "2026-06-20T14:00:00Z",
    arriveAtLatest: "2026-06-20T16:00:00Z",
  },
  route: { distanceMeters: 182000, durationSeconds: 7200 },
};
const rentalExample = (gdsStatus: string) => ({
  bookingCode: "BR-1234567",
  localNumber: "GFC042389XY",
  gdsStatus,
  changed: "status",
  pickupDate: "2026-05-15 10:00:00",
  dropoffDate: "2026-05-18 10:00:00",
  pickupAt: "2026-05-15T13:00:00.000Z",
  dropoffAt: "2026-05-18T13:00:00.000Z",
  timeZone: "America/Sao_Paulo",
});
const reservationPrevious: Record<string, string | null> = {
  created: null,
  taken: "created",
  driving: "taken",
  sealed: "driving",
  final_costs: "sealed",
  cancelled: "taken",
};

const reservationEntries: CatalogEntry[] = RESERVATION_STATES.map((state) => ({
  type: `reservation.${state}`,
  entity: "reservation",
  when:
    state === "final_costs"
      ? "Flovi reported the final costs (about two weeks after `sealed`). `details.finalCosts` is the money."
      : state === "cancelled"
        ? "Flovi cancelled the reservation. `details.cancellationReason` says why (null when Flovi gave no reason; a later `reservation.updated` brings it)."
        : `Flovi reported the state \`${state}\` (from a webhook, or from the Partner API when a webhook was missed).`,
  time: RESERVATION_TIME,
  schema: envelope("reservation", `reservation.${state}`, z.literal(state), state === "final_costs" ? finalCostsDetails : reservationDetails, either),
  exampleDetails:
    state === "final_costs"
      ? {
          ...apiFacts,
          finalCosts: {
            amount: 154.2,
            currency: "EUR",
            amountMinor: 15420,
            breakdown: [
              { type: "base", label: "Base price", amount: 120, currency: "EUR", amountMinor: 12000 },
              { type: "fuel", label: "Fuel", amount: 34.2, currency: "EUR", amountMinor: 3420 },
            ],
          },
        }
      : state === "cancelled"
        ? { ...apiFacts, cancellationReason: "customer_cancelled" }
        : apiFacts,
  exampleStatus: state,
  examplePrevious: reservationPrevious[state] ?? null,
  exampleTimeSource: "provider",
}));

const catalogEntries: CatalogEntry[] = [
  ...reservationEntries,
  {
    type: "reservation.updated",
    entity: "reservation",
    when: "The reservation's details arrived or changed while its state did not: the Partner API's schedule, route, origin, destination or vehicle after the first event, or a cancellation's reason after the cancellation. `details.updated` names what.",
    time: "when the hub learnt it (`timeSource: hub`); for a cancellation's reason brought by a webhook, that webhook's time when it had one (`timeSource: provider`)",
    schema: envelope("reservation", "reservation.updated", reservationState, reservationUpdatedDetails, either),
    exampleDetails: { ...apiFacts, updated: ["reservationType", "schedule", "route"] },
    exampleStatus: "created",
    examplePrevious: "created",
    exampleTimeSource: "hub",
  },
  {
    type: "reservation.final_costs_overdue",
    entity: "reservation",
    when: "A sealed reservation has had no `final_costs` for FLOVI_FINAL_COSTS_OVERDUE_MS (16 days). Emitted once; `details.price` is the Partner API's billed price when it answered. A later `final_costs` is applied as usual.",
    time: "when the hub flagged it (`timeSource: hub`)",
    schema: envelope("reservation", "reservation.final_costs_overdue", reservationState, overdueDetails, hub),
    exampleDetails: {
      ...apiFacts,
      sealedAt: "2026-06-20T15:40:00Z",
      overdueAfterMs: 1382400000,
      price: { amount: 154.2, currency: "EUR", amountMinor: 15420, breakdown: [] },
    },
    exampleStatus: "sealed",
    examplePrevious: "sealed",
    exampleTimeSource: "hub",
  },
  {
    type: "shipment.tracking_event",
    entity: "shipment",
    when: "Every new carrier event of an MFB order, whatever its code (`unknown` and codes added later included). Two messages with the same time are two events; a re-read of one is not a new one.",
    time: "the carrier's time of the event (`timeSource: provider`)",
    schema: envelope("shipment", "shipment.tracking_event", z.enum(SHIPMENT_STATUSES), trackingEventDetails, provider),
    exampleDetails: {
      parcelIndex: 0,
      code: "delivery_exception",
      label: "Delivery exception",
      labels: { en: "Delivery exception", fr: "Problème de livraison" },
      location: { city: "ENFIELD", state: "MI", postal_code: "EN3", country: "GB" },
      carrierDetails: { code: "not_available_or_closed", label: { en: "Customer not available or business closed" } },
      exceptionReason: "not_available_or_closed",
      happenedAt: "2013-12-12T10:48:00.000Z",
      happenedAtRaw: "2013-12-12T11:48:00+01:00",
      carrier: "UPS",
      product: "UPS_EXPRESS",
      price: { amount: 351.24, currency: "EUR", amountMinor: 35124 },
    },
    exampleStatus: "exception",
    examplePrevious: "out_for_delivery",
    exampleTimeSource: "provider",
  },
  ...SHIPMENT_STATUSES.map(
    (status): CatalogEntry => ({
      type: `shipment.${status}`,
      entity: "shipment",
      when:
        status === "exception"
          ? "A parcel's latest carrier event is a delivery exception (the order's status while any parcel is in exception). `details.exceptionReason` is MFB's reason."
          : status === "delivered"
            ? "Every parcel of the order is delivered (with the parcel count known, that many). Polling ends."
            : `The order's status, folded over its parcels (the least advanced one), became \`${status}\`.`,
      time: "the carrier's time of the event that changed it (`timeSource: provider`)",
      schema: envelope("shipment", `shipment.${status}`, z.literal(status), shipmentStatusDetails, either),
      exampleDetails: {
        parcels: [{ parcelIndex: 0, status, code: status === "exception" ? "delivery_exception" : "in_transit" }],
        parcelCount: 1,
        ...(status === "exception" ? { exceptionReason: "not_available_or_closed" } : {}),
        carrier: "UPS",
        price: { amount: 351.24, currency: "EUR", amountMinor: 35124 },
      },
      exampleStatus: status,
      examplePrevious: status === "created" ? null : "created",
      exampleTimeSource: "provider",
    }),
  ),
  {
    type: "shipment.tracking_stopped",
    entity: "shipment",
    when: "Polling of an MFB order ended before it was delivered: `details.reason` says why (not_found, access_denied, no_movement, stopped_by_operator). Registering it again resumes polling; nothing is emitted until a status changes.",
    time: "when the hub stopped it (`timeSource: hub`)",
    schema: envelope("shipment", "shipment.tracking_stopped", z.string(), shipmentStoppedDetails, hub),
    exampleDetails: {
      reason: "no_movement",
      message: "no new carrier event since 2026-05-01T10:00:00.000Z (MFB_STALE_AFTER_MS is 2592000000 ms)",
      carrier: "UPS",
    },
    exampleStatus: "in_transit",
    examplePrevious: "in_transit",
    exampleTimeSource: "hub",
  },
  ...["reserved", "cancelled"].map(
    (status): CatalogEntry => ({
      type: `rental.${status}`,
      entity: "rental",
      when:
        status === "reserved"
          ? "A GreenFlow booking was first read as RESERVED (its status on creation)."
          : "GreenFlow shows the booking cancelled (DELETE /bookings/{code} cancels upstream). Polling ends.",
      time: "when a poll saw the change: GreenFlow gives no time of change (`timeSource: hub`)",
      schema: envelope("rental", `rental.${status}`, z.literal(status), rentalStatusDetails, hub),
      exampleDetails: rentalExample(status.toUpperCase()),
      exampleStatus: status,
      examplePrevious: status === "reserved" ? null : "reserved",
      exampleTimeSource: "hub",
    }),
  ),
  {
    type: "rental.tracking_stopped",
    entity: "rental",
    when: "Polling of a GreenFlow booking ended short of a final status: `not_found` (404 on the first read: wrong lastname, another tenant's booking), `gone` (404 after earlier reads), `stopped_by_operator`. Registering it again (with a corrected lastname) resumes polling.",
    time: "when the hub stopped it (`timeSource: hub`)",
    schema: envelope("rental", "rental.tracking_stopped", z.string(), rentalStoppedDetails, hub),
    exampleDetails: {
      reason: "gone",
      message:
        "GreenFlow no longer shows this item, which it showed before (greenflow 404: booking not found (another tenant's, or the lastname does not match))",
      bookingCode: "BR-1234567",
      localNumber: "GFC042389XY",
    },
    exampleStatus: "reserved",
    examplePrevious: "reserved",
    exampleTimeSource: "hub",
  },
  {
    type: "rental.<status>",
    entity: "rental",
    when: "Any other GreenFlow status, lower-cased (pending, confirmed, picked_up, returned, …, or a word GreenFlow's documentation does not define: then `details.undocumentedStatus` is true). A change of `gds.status` alone is emitted under the unchanged status with `details.changed: gds_status`.",
    time: "when a poll saw the change (`timeSource: hub`)",
    schema: envelope("rental", /^rental\.[a-z][a-z0-9_]*$/, z.string().regex(/^[a-z][a-z0-9_]*$/), rentalStatusDetails, hub),
    exampleDetails: rentalExample("PICKED_UP"),
    exampleStatus: "picked_up",
    examplePrevious: "reserved",
    exampleTimeSource: "hub",
  },
  {
    type: "subscription.disabled",
    entity: "subscription",
    when: "The hub disabled a subscription: its endpoint failed without a success for DELIVERY_DISABLE_AFTER_MS, or DELIVERY_DISABLE_AFTER_FAILURES times in a row, or answered 410 Gone. Delivered to the other subscriptions that ask for it.",
    time: "when it was disabled (`timeSource: hub`)",
    schema: envelope("subscription", "subscription.disabled", z.literal("disabled"), z.strictObject({ reason: z.string().describe("why, in words") }), hub),
    exampleDetails: { reason: "20 consecutive failed deliveries" },
    exampleStatus: "disabled",
    examplePrevious: "active",
    exampleTimeSource: "hub",
  },
  {
    type: "hub.test",
    entity: "hub",
    when: "Sent on request (POST /subscriptions/:id/test, the CLI's `subscriptions test`, the console's Send test button) to that one endpoint, signed with its secret like every delivery, to check the URL and the signature. Never written to the event log nor sent to any other subscription; `data.entityId` is the subscription's id.",
    time: "when it was sent (`timeSource: hub`)",
    schema: envelope(
      "hub",
      "hub.test",
      z.literal("test"),
      z.strictObject({
        message: z.string().describe("what this is, for people"),
        subscriptionId: z.uuid().describe("the subscription it was sent to"),
        requestedBy: z.string().describe("who asked for it"),
      }),
      hub,
    ),
    exampleDetails: {
      message: "A test event from the logistics event hub: your endpoint received and can verify it.",
      subscriptionId: "3f1c0a52-6a7e-4f55-9d0e-1b2c3d4e5f60",
      requestedBy: "admin",
    },
    exampleStatus: "test",
    examplePrevious: null,
    exampleTimeSource: "hub",
  },
];

export const EVENT_CATALOG: readonly CatalogEntry[] = catalogEntries;

const byType = new Map(catalogEntries.filter((e) => !e.type.includes("<")).map((e) => [e.type, e]));
const genericRental = catalogEntries.find((e) => e.type === "rental.<status>")!;

/** The catalog entry an event type belongs to (a rental status nobody listed falls under `rental.<status>`). */
export function catalogEntryOf(type: string): CatalogEntry | null {
  return byType.get(type) ?? (type.startsWith("rental.") ? genericRental : null);
}

/** Why an envelope does not match its type's schema, or null when it does. */
export function eventSchemaProblem(event: unknown): string | null {
  const type = (event as { type?: unknown } | null)?.type;
  const entry = typeof type === "string" ? catalogEntryOf(type) : null;
  if (!entry) return `no catalog entry for event type ${String(type)}`;
  const result = entry.schema.safeParse(event);
  return result.success ? null : `${String(type)}: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`;
}

let onViolation: (problem: string, event: CloudEvent) => void = (problem) => {
  throw new Error(`event does not match the catalog: ${problem}`);
};

/**
 * What happens to an event that does not match its schema. Tests keep the default (throw: the test fails);
 * a running service logs and counts it and still emits the event, because refusing it would hold the
 * reservation or the shipment back behind a bug in the hub.
 */
export function onEventSchemaViolation(handler: (problem: string, event: CloudEvent) => void): void {
  onViolation = handler;
}

/** The one way events are made: the envelope, checked against its type's schema. */
export function createEvent(event: NewEvent, id: string = randomUUID()): CloudEvent {
  const envelope = buildEnvelope(event, id);
  const problem = eventSchemaProblem(envelope);
  if (problem) onViolation(problem, envelope);
  return envelope;
}

/** An example envelope of the entry, as a subscriber would receive it. */
export function exampleEvent(entry: CatalogEntry): CloudEvent {
  const entityId = {
    reservation: "4711",
    shipment: "eb27ff8e-b353-4a3f-8e7e-69576e64ee1a",
    rental: "BR-1234567",
    subscription: "3f1c0a52-6a7e-4f55-9d0e-1b2c3d4e5f60",
    hub: "3f1c0a52-6a7e-4f55-9d0e-1b2c3d4e5f60",
  }[entry.entity];
  const status = entry.exampleStatus;
  const type = entry.type.includes("<") ? `rental.${status}` : entry.type;
  const base = buildEnvelope(
    {
      entity: entry.entity,
      entityId,
      externalId:
        entry.entity === "reservation" ? "PO-2026-0042" : entry.entity === "rental" ? "GFC042389XY" : entry.entity === "shipment" ? "PO-2026-0042" : null,
      type: type.slice(entry.entity.length + 1),
      status,
      previousStatus: entry.examplePrevious,
      providerStatus: entry.entity === "rental" ? status.toUpperCase() : entry.type === "shipment.tracking_event" ? "delivery_exception" : status,
      sequence: entry.examplePrevious === null ? 1 : 3,
      time: new Date("2026-06-20T15:40:00.000Z"),
      timeSource: entry.exampleTimeSource,
      details: entry.exampleDetails,
      dedupeKey: "example",
    },
    "0b6f7a40-8f8a-4d2e-9a61-7c1e2d3f4a5b",
  );
  return base;
}

/** A JSON Schema as served: additional properties allowed, so that a field added later breaks no subscriber. */
function openSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k, v]) => !(k === "additionalProperties" && v === false))
      .map(([k, v]) => [k, openSchema(v)]),
  );
}

/** The catalog as GET /schemas/events.json serves it. */
export function eventCatalogDocument() {
  return {
    $id: "logistics-event-hub/events.json",
    title: "Logistics event hub: event catalog",
    description:
      "Every event type the hub emits: when, what `time` means, its JSON Schema (envelope, data and data.details; draft 2020-12) and an example. New optional fields may be added: accept properties you do not know.",
    envelope: "/schemas/event.json",
    types: catalogEntries.map((entry) => ({
      type: entry.type,
      entity: entry.entity,
      source: SOURCES[entry.entity],
      description: entry.when,
      time: entry.time,
      schema: openSchema(z.toJSONSchema(entry.schema, { unrepresentable: "any" })),
      example: exampleEvent(entry),
    })),
  };
}
