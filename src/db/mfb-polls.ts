// What an MFB poll reads and writes: an order's details, its lock, its carriers' tracking events (each kept
// once, by fingerprint) and parcels, and the poll's outcome.
import type { MfbOrder, MfbParcel, MfbTrackingEvent } from "../generated/prisma/client.js";
import type { Database } from "./client.js";
import type { Sql } from "./sql.js";
import { prismaOf } from "./clients.js";
import { columnsFor, unnestLayout } from "./unnest.js";

export interface MfbOrderDetails {
  parcelCount: number | null;
  carrier: string | null;
  product: string | null;
  productName: string | null;
  price: unknown;
}

export async function saveMfbOrderDetails(db: Database, orderId: string, details: MfbOrderDetails): Promise<void> {
  await prismaOf(db).mfbOrder.update({
    where: { id: orderId },
    data: { ...details, price: (details.price ?? undefined) as object | undefined, detailsFetchedAt: new Date() },
  });
}

export interface LockedMfbOrder {
  status: string | null;
  sequence: number;
  active: boolean;
  reference: string | null;
  parcel_count: number | null;
  carrier: string | null;
  product: string | null;
  quiet_polls: number;
  last_movement_at: Date | null;
  created_at: Date;
  /** MFB's total_price hash from GET /orders/:id (null until fetched). */
  price?: unknown;
}

export async function lockMfbOrder(sql: Sql, orderId: string): Promise<LockedMfbOrder | null> {
  const [order] = await sql.query<LockedMfbOrder>(
    `SELECT status, sequence, active, reference, parcel_count, carrier, product, quiet_polls, last_movement_at, created_at, price
        FROM mfb_orders WHERE id = $1 FOR UPDATE`,
    [orderId],
  );
  return order ?? null;
}

export interface TrackingEventInput {
  parcelIndex: number;
  code: string;
  happenedAt: Date;
  label: Record<string, string>;
  location?: unknown;
  details?: unknown;
}

export interface StoredTrackingEvent {
  parcel_index: number;
  code: string;
  happened_at: Date;
  /** details.code of the carrier event (MFB's reason for a delivery_exception), when it has one. */
  detail_code?: string | null;
}

type OfOrder<T> = T & { orderId: string };

/** The two batch writes' columns, each one's type and value on one line (src/db/unnest.ts numbers them). */
const EVENT_COLUMNS = unnestLayout({
  events: columnsFor<OfOrder<TrackingEventInput>>({
    order_id: ["uuid", (e) => e.orderId],
    parcel_index: ["int", (e) => e.parcelIndex],
    code: ["text", (e) => e.code],
    happened_at: ["timestamptz", (e) => e.happenedAt],
    label: ["jsonb", (e) => JSON.stringify(e.label)],
    location: ["jsonb", (e) => (e.location ? JSON.stringify(e.location) : null)],
    details: ["jsonb", (e) => (e.details ? JSON.stringify(e.details) : null)],
  }),
});
const PARCEL_COLUMNS = unnestLayout({
  parcels: columnsFor<OfOrder<ParcelState>>({
    order_id: ["uuid", (p) => p.orderId],
    parcel_index: ["int", (p) => p.parcelIndex],
    status: ["text", (p) => p.status],
    code: ["text", (p) => p.code],
    at: ["timestamptz", (p) => p.at],
  }),
});

const INSERT_EVENTS = `
WITH input AS (
  SELECT t.ord::int AS ord, t.order_id, t.parcel_index, t.code, t.happened_at, t.label, t.location, t.details
    FROM ${EVENT_COLUMNS.unnest("events")} WITH ORDINALITY AS t(${EVENT_COLUMNS.names("events")}, ord)
), inserted AS (
  INSERT INTO mfb_tracking_events (order_id, parcel_index, code, happened_at, label, location, details)
  SELECT order_id, parcel_index, code, happened_at, label, location, details FROM input
  ON CONFLICT (order_id, parcel_index, code, happened_at, fingerprint) DO NOTHING
  RETURNING parcel_index, code, happened_at, fingerprint
)
SELECT DISTINCT ON (i.fingerprint, i.parcel_index, i.code, i.happened_at) input.ord, i.fingerprint
  FROM inserted i JOIN input ON input.parcel_index = i.parcel_index AND input.code = i.code AND input.happened_at = i.happened_at
   AND md5(coalesce(input.label::text, '') || '|' || coalesce(input.location::text, '') || '|' || coalesce(input.details::text, '')) = i.fingerprint
 ORDER BY i.fingerprint, i.parcel_index, i.code, i.happened_at, input.ord`;

/**
 * Stores the events in one statement. The unique key (order, parcel, code, time, fingerprint of label,
 * location and details) makes a re-read a no-op and two messages at the same time two events; the answer
 * names the new ones by their index in `events` (the first of identical ones), with their fingerprints.
 */
export async function insertTrackingEvents(sql: Sql, orderId: string, events: TrackingEventInput[]): Promise<{ index: number; fingerprint: string }[]> {
  if (events.length === 0) return [];
  const rows = await sql.query<{ ord: number; fingerprint: string }>(INSERT_EVENTS, EVENT_COLUMNS.values({ events: events.map((e) => ({ ...e, orderId })) }));
  return rows.map((r) => ({ index: r.ord - 1, fingerprint: r.fingerprint }));
}

/** Every stored event of the order in time order. */
export function trackingEventsOf(sql: Sql, orderId: string): Promise<StoredTrackingEvent[]> {
  return sql.query<StoredTrackingEvent>(
    "SELECT parcel_index, code, happened_at, details->>'code' AS detail_code FROM mfb_tracking_events WHERE order_id = $1 ORDER BY happened_at, id",
    [orderId],
  );
}

interface ParcelState {
  parcelIndex: number;
  status: string;
  code: string;
  at: Date;
}

const UPSERT_PARCELS = `
INSERT INTO mfb_parcels (order_id, parcel_index, status, last_code, last_event_at)
SELECT t.order_id, t.parcel_index, t.status, t.code, t.at
  FROM ${PARCEL_COLUMNS.unnest("parcels")} AS t(${PARCEL_COLUMNS.names("parcels")})
ON CONFLICT (order_id, parcel_index) DO UPDATE SET status = EXCLUDED.status, last_code = EXCLUDED.last_code, last_event_at = EXCLUDED.last_event_at`;

export async function upsertParcels(sql: Sql, orderId: string, parcels: ParcelState[]): Promise<void> {
  if (parcels.length === 0) return;
  await sql.query(UPSERT_PARCELS, PARCEL_COLUMNS.values({ parcels: parcels.map((p) => ({ ...p, orderId })) }));
}

export interface MfbPollResult {
  status: string | null;
  sequence: number;
  polledAt: Date;
  active: boolean;
  nextPollAt: Date | null;
  stoppedReason: string | null;
  quietPolls: number;
  lastMovementAt: Date | null;
}

export async function saveMfbPoll(sql: Sql, orderId: string, r: MfbPollResult): Promise<void> {
  await sql.query(
    `UPDATE mfb_orders SET status = $2, sequence = $3, last_polled_at = $4, consecutive_failures = 0, last_error = NULL,
            active = $5, next_poll_at = $6, stopped_reason = $7, stopped_at = $8, quiet_polls = $9, last_movement_at = $10, updated_at = now()
      WHERE id = $1`,
    [orderId, r.status, r.sequence, r.polledAt, r.active, r.nextPollAt, r.stoppedReason, r.stoppedReason ? r.polledAt : null, r.quietPolls, r.lastMovementAt],
  );
}

export type MfbOrderRecord = MfbOrder & { parcels: MfbParcel[]; events: MfbTrackingEvent[] };

/** The order with its parcels and every carrier event (time order), for the API and the console. */
export function mfbOrderRecord(db: Database, orderId: string): Promise<MfbOrderRecord | null> {
  return prismaOf(db).mfbOrder.findUnique({
    where: { id: orderId },
    include: { parcels: { orderBy: { parcelIndex: "asc" } }, events: { orderBy: [{ happenedAt: "asc" }, { id: "asc" }] } },
  });
}
