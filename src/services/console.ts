// What the operator console reads: search, one entity's whole story, subscriptions with their failures,
// inbound webhooks that did not apply. Actions go through the admin service, as the JSON API's do.
import type { Database } from "../db/client.js";
import { maskUrl } from "../lib/text.js";
import { entityEvents } from "../db/events.js";
import { inboundBody, listInbound } from "../db/inbound-deliveries.js";
import { attention } from "../db/attention.js";
import { reservationTimeline, searchReservations } from "../db/reservations.js";
import { getSubscription, listSubscriptions, subscriptionOverview } from "../db/subscriptions.js";
import { searchTracked } from "../db/tracked-items.js";
import { deliveriesOfEvents, subscriptionDeliveries, type DeliveryView } from "../db/webhook-deliveries.js";
import { laneStats } from "../db/delivery-lanes.js";
import type { CloudEvent } from "../domain/events.js";

export type { DeliveryView };

export async function search(db: Database, q: string) {
  const [reservations, tracked] = await Promise.all([searchReservations(db, q), searchTracked(db, q)]);
  return { reservations, orders: tracked.orders, bookings: tracked.bookings };
}

/** Each event of the entity with its deliveries (and their attempts), plus subscription URLs to name them. */
async function eventsWithDeliveries(db: Database, entity: string, entityId: string) {
  const events = await entityEvents(db, entity, entityId);
  const [deliveries, subscriptions] = await Promise.all([
    deliveriesOfEvents(
      db,
      events.map((e) => e.id),
    ),
    listSubscriptions(db),
  ]);
  const byEvent = new Map<string, DeliveryView[]>();
  for (const d of deliveries) byEvent.set(d.eventId, [...(byEvent.get(d.eventId) ?? []), d]);
  return {
    events: events.map((event) => ({ event, deliveries: byEvent.get(event.id) ?? [] })),
    subscriptionUrls: new Map(subscriptions.map((s) => [s.id, maskUrl(s.url)])),
  };
}

export async function reservationStory(db: Database, id: string) {
  const reservation = await reservationTimeline(db, id);
  if (!reservation) return null;
  const { events, subscriptionUrls } = await eventsWithDeliveries(db, "reservation", id);
  const byId = new Map(events.map((e) => [e.event.id, e]));
  return {
    reservation,
    transitions: reservation.transitions.map((t) => ({ ...t, emitted: t.eventId ? (byId.get(t.eventId) ?? null) : null })),
    subscriptionUrls,
  };
}

/** A shipment's or rental's events (status changes and, for shipments, carrier events) with deliveries. */
export async function trackedStory(
  db: Database,
  entity: "shipment" | "rental",
  id: string,
): Promise<{ events: { event: CloudEvent; deliveries: DeliveryView[] }[]; subscriptionUrls: Map<string, string> }> {
  return eventsWithDeliveries(db, entity, id);
}

export const subscriptionsOverview = subscriptionOverview;

export async function subscriptionFailures(db: Database, id: string, opts: { status: string; limit: number; before?: { createdAt: Date; id: string } }) {
  const subscription = await getSubscription(db, id);
  if (!subscription) return null;
  const [deliveries, lane] = await Promise.all([subscriptionDeliveries(db, id, opts), laneStats(db, id)]);
  return { subscription, deliveries, lane };
}

/** The landing page: endpoints failing, disabled, paused or holding back; paused providers; the last webhooks. */
export const needsALook = attention;

/** A stored delivery's whole body (the console shows the first part of a long one). */
export const storedBody = inboundBody;

export function inboundNeedingAttention(db: Database, status: "failed" | "rejected" | "ignored", limit: number, before?: Date) {
  return listInbound(db, { status, limit, before });
}
