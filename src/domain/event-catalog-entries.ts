// The event catalog's entries: every event type the hub emits, with when, what `time` is, its schema and an
// example (./event-catalog.ts serves and checks them).
import { z } from "zod";
import { apiFacts, rentalExample } from "./event-examples.js";
import { reservationEntries } from "./event-reservation-entries.js";
import {
  type CatalogEntry,
  SHIPMENT_STATUSES,
  either,
  envelope,
  hub,
  overdueDetails,
  provider,
  rentalStatusDetails,
  rentalStoppedDetails,
  reservationState,
  reservationUpdatedDetails,
  shipmentStatusDetails,
  shipmentStoppedDetails,
  trackingEventDetails,
} from "./event-schemas.js";

export const catalogEntries: CatalogEntry[] = [
  ...reservationEntries,
  {
    type: "reservation.updated",
    entity: "reservation",
    when:
      "The reservation's details arrived or changed while its state did not: the Partner API's schedule, route, origin, destination or vehicle " +
      "after the first event, or a cancellation's reason after the cancellation. `details.updated` names what.",
    time:
      "when the hub learnt it (`timeSource: hub`); for a cancellation's reason brought by a webhook, that webhook's time when it had one " +
      "(`timeSource: provider`)",
    schema: envelope("reservation", "reservation.updated", reservationState, reservationUpdatedDetails, either),
    exampleDetails: { ...apiFacts, updated: ["reservationType", "schedule", "route"] },
    exampleStatus: "created",
    examplePrevious: "created",
    exampleTimeSource: "hub",
  },
  {
    type: "reservation.final_costs_overdue",
    entity: "reservation",
    when:
      "A sealed reservation has had no `final_costs` for FLOVI_FINAL_COSTS_OVERDUE_MS (16 days). Emitted once; `details.price` is the Partner " +
      "API's billed price when it answered. A later `final_costs` is applied as usual.",
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
    when:
      "Every new carrier event of an MFB order, whatever its code (`unknown` and codes added later included). Two messages with the same time are " +
      "two events; a re-read of one is not a new one.",
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
          ? "A parcel's latest carrier event is a delivery exception (the order's status while any parcel is in exception). `details.exceptionReason` " +
            "is MFB's reason."
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
    when:
      "Polling of an MFB order ended before it was delivered: `details.reason` says why (not_found, access_denied, no_movement, " +
      "stopped_by_operator). Registering it again resumes polling; nothing is emitted until a status changes.",
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
    when:
      "Polling of a GreenFlow booking ended short of a final status: `not_found` (404 on the first read: wrong lastname, another tenant's " +
      "booking), `gone` (404 after earlier reads), `stopped_by_operator`. Registering it again (with a corrected lastname) resumes polling.",
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
    when:
      "Any other GreenFlow status, lower-cased (pending, confirmed, picked_up, returned, …, or a word GreenFlow's documentation does not define: " +
      "then `details.undocumentedStatus` is true). A change of `gds.status` alone is emitted under the unchanged status with `details.changed: gds_status`.",
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
    when:
      "The hub disabled a subscription: its endpoint failed without a success for DELIVERY_DISABLE_AFTER_MS, or DELIVERY_DISABLE_AFTER_FAILURES " +
      "times in a row, or answered 410 Gone. Delivered to the other subscriptions that ask for it.",
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
    when:
      "Sent on request (POST /subscriptions/:id/test, the CLI's `subscriptions test`, the console's Send test button) to that one endpoint, " +
      "signed with its secret like every delivery, to check the URL and the signature. Never written to the event log nor sent to any other " +
      "subscription; `data.entityId` is the subscription's id.",
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
