// What the operator console reads: search, one entity's whole story, subscriptions with their failures,
// inbound webhooks that did not apply. Actions go through the admin service, as the JSON API's do.
import type { Database } from "../db/client.js";
import { maskUrl } from "../lib/text.js";
import { destinationKind } from "../domain/destinations.js";
import { redactForDisplay } from "../observability/logger.js";
import { entityEvents } from "../db/events.js";
import { inboundBody } from "../db/inbound-deliveries.js";
import { attention } from "../db/attention.js";
import { reservationTimeline, searchReservations } from "../db/reservations.js";
import { getSubscription, listSubscriptions, subscriptionOverview } from "../db/subscriptions.js";

export { OVERVIEW_COUNT_CAP } from "../db/subscriptions.js";
import { searchTracked } from "../db/tracked-items.js";
import { deliveriesOfEvents, type DeliverySearch, subscriptionDeliveries, type DeliveryView } from "../db/webhook-deliveries.js";
import { laneStats } from "../db/delivery-lanes.js";
import type { CloudEvent } from "../domain/events.js";

export type { DeliverySearch, DeliveryView };

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

/**
 * One page of the subscriptions overview (URLs masked: a query may carry a token), with the cursor of the
 * next page when this one is full.
 */
export async function subscriptionsPage(db: Database, opts: { limit: number; after?: { createdAt: Date; id: string } }) {
  const rows = await subscriptionOverview(db, opts);
  const last = rows.at(-1);
  return {
    rows: rows.map((r) => ({ ...r, url: maskUrl(r.url), kind: destinationKind(r.url) })),
    next: rows.length === opts.limit && last ? `${last.createdAt.toISOString()}~${last.id}` : null,
  };
}

export async function subscriptionFailures(db: Database, id: string, opts: DeliverySearch) {
  const subscription = await getSubscription(db, id);
  if (!subscription) return null;
  const [deliveries, lane] = await Promise.all([subscriptionDeliveries(db, id, opts), laneStats(db, id)]);
  return { subscription, deliveries, lane };
}

/** The landing page: endpoints failing, disabled, paused or holding back (URLs masked); paused providers; the last webhooks. */
export async function needsALook(db: Database) {
  const look = await attention(db);
  return { ...look, endpoints: look.endpoints.map((e) => ({ ...e, url: maskUrl(e.url) })) };
}

/**
 * A stored body as an operator may see it: JSON pretty-printed and redacted as the logs are, free-text fields
 * (notes, comments) only for `freeText` (the admin role); null when it is not JSON.
 */
export function displayBody(raw: Buffer, freeText = false): string | null {
  try {
    return JSON.stringify(redactForDisplay(JSON.parse(raw.toString("utf8")), { freeText }), null, 2);
  } catch {
    return null;
  }
}

export type StoredBody = { kind: "unknown" } | { kind: "pruned" } | { kind: "shown"; text: string; json: boolean };

/** A stored delivery's whole body as an operator may see it (the console shows the first part of a long one). */
export async function storedBody(db: Database, id: string, freeText = false): Promise<StoredBody> {
  const found = await inboundBody(db, id);
  if (!found) return { kind: "unknown" };
  if (!found.body) return { kind: "pruned" };
  const shown = displayBody(found.body, freeText);
  return shown === null ? { kind: "shown", text: `(not JSON, ${found.body.length} bytes)`, json: false } : { kind: "shown", text: shown, json: true };
}
