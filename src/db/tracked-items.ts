// Tracked MFB orders and GreenFlow bookings: registration, the sweep's claim, what a poll reads and writes,
// and an operator's stop. Statements are written out per table (no table name is spliced into SQL).
import type { GreenflowBooking, MfbOrder, MfbParcel, MfbTrackingEvent } from "../generated/prisma/client.js";
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";
import { poolOf, prismaOf } from "./clients.js";

export type { GreenflowBooking, MfbOrder };
export type TrackedKind = "mfb" | "greenflow";

const CLAIM: Record<TrackedKind, string> = {
  mfb: `UPDATE mfb_orders SET next_poll_at = now() + ($2::int * interval '1 millisecond'), updated_at = now()
         WHERE id IN (SELECT id FROM mfb_orders WHERE active AND next_poll_at <= now() ORDER BY next_poll_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id::text AS key`,
  greenflow: `UPDATE greenflow_bookings SET next_poll_at = now() + ($2::int * interval '1 millisecond'), updated_at = now()
               WHERE booking_code IN (SELECT booking_code FROM greenflow_bookings WHERE active AND next_poll_at <= now() ORDER BY next_poll_at LIMIT $1 FOR UPDATE SKIP LOCKED)
              RETURNING booking_code AS key`,
};

/**
 * Claims up to `batch` due items and pushes their next_poll_at out by `leaseMs`, in one statement with
 * FOR UPDATE SKIP LOCKED: two sweeps (or two workers) never claim the same item. A poll that finishes
 * sets the real next time; a worker that dies mid-poll only delays the item by the lease.
 */
export async function claimDue(db: Database, kind: TrackedKind, batch: number, leaseMs: number): Promise<string[]> {
  const { rows } = await poolOf(db).query<{ key: string }>(CLAIM[kind], [batch, leaseMs]);
  return rows.map((r) => r.key);
}

/** The polling fields both kinds share: what a failed poll, a pause or a stop changes. */
export interface PollStateChange {
  active?: boolean;
  nextPollAt?: Date | null;
  lastPolledAt?: Date;
  consecutiveFailures?: number;
  lastError?: string | null;
  stoppedReason?: string | null;
  stoppedAt?: Date | null;
}

export async function updatePollState(db: Database, kind: TrackedKind, key: string, change: PollStateChange): Promise<void> {
  if (kind === "mfb") await prismaOf(db).mfbOrder.update({ where: { id: key }, data: change });
  else await prismaOf(db).greenflowBooking.update({ where: { bookingCode: key }, data: change });
}

export function findMfbOrder(db: Database, orderId: string): Promise<MfbOrder | null> {
  return prismaOf(db).mfbOrder.findUnique({ where: { id: orderId } });
}

/**
 * The tracked booking a code names: GreenFlow accepts a booking's booking_code and its local_number as
 * {code}, so either (or the code it was registered by) finds the one row; its booking_code wins a tie.
 */
export async function findGreenflowBooking(db: Database, code: string): Promise<GreenflowBooking | null> {
  const rows = await prismaOf(db).greenflowBooking.findMany({
    where: { OR: [{ bookingCode: code }, { localNumber: code }, { registeredCode: code }] },
    take: 3,
  });
  return rows.find((r) => r.bookingCode === code) ?? rows.find((r) => r.localNumber === code) ?? rows[0] ?? null;
}

export async function findTracked(db: Database, kind: TrackedKind, key: string): Promise<MfbOrder | GreenflowBooking | null> {
  return kind === "mfb" ? findMfbOrder(db, key) : findGreenflowBooking(db, key);
}

// --- registration ---------------------------------------------------------------------------------------

/** Creates the order's row; false when it exists already (two registrations at once: one creates it). */
export async function insertMfbOrder(db: Database, orderId: string, reference: string | null): Promise<boolean> {
  const rows = await onPool(db).query(
    `INSERT INTO mfb_orders (id, reference, next_poll_at, updated_at) VALUES ($1::uuid, $2, now(), now()) ON CONFLICT (id) DO NOTHING RETURNING 1`,
    [orderId, reference],
  );
  return rows.length > 0;
}

/** Creates the booking's row; false when a row has this code already (two registrations at once). */
export async function insertGreenflowBooking(db: Database, code: string, lastname: string, timeZone: string | null): Promise<boolean> {
  const rows = await onPool(db).query(
    `INSERT INTO greenflow_bookings (booking_code, registered_code, lastname, time_zone, next_poll_at, updated_at)
     VALUES ($1, $1, $2, $3, now(), now()) ON CONFLICT (booking_code) DO NOTHING RETURNING 1`,
    [code, lastname, timeZone],
  );
  return rows.length > 0;
}

/** Polling again from now, with a clean failure count (a resumed or corrected registration). */
const resumed = () => ({ active: true, nextPollAt: new Date(), stoppedReason: null, stoppedAt: null, consecutiveFailures: 0 });

export async function resumeMfbOrder(db: Database, orderId: string, reference?: string): Promise<void> {
  await prismaOf(db).mfbOrder.update({ where: { id: orderId }, data: { ...resumed(), ...(reference ? { reference } : {}) } });
}

export async function setMfbReference(db: Database, orderId: string, reference: string): Promise<void> {
  await prismaOf(db).mfbOrder.update({ where: { id: orderId }, data: { reference } });
}

export async function resumeGreenflowBooking(db: Database, bookingCode: string, lastname: string, timeZone: string | null): Promise<void> {
  await prismaOf(db).greenflowBooking.update({ where: { bookingCode }, data: { ...resumed(), lastname, ...(timeZone ? { timeZone } : {}) } });
}

export async function setGreenflowTimeZone(db: Database, bookingCode: string, timeZone: string): Promise<void> {
  await prismaOf(db).greenflowBooking.update({ where: { bookingCode }, data: { timeZone } });
}

/**
 * A booking registered by its local number learns its booking_code on the first read (in the poll's
 * transaction): the row takes it ("renamed"); or, when that booking is tracked already (registered by its
 * booking code too), this row goes ("merged": deleted when it never emitted, else stopped as merged).
 */
export async function adoptBookingCode(sql: Sql, registeredKey: string, bookingCode: string): Promise<"renamed" | "merged"> {
  const [existing] = await sql.query<{ booking_code: string }>("SELECT booking_code FROM greenflow_bookings WHERE booking_code = $1 FOR UPDATE", [bookingCode]);
  if (existing) {
    const [gone] = await sql.query<{ n: number }>(
      "WITH d AS (DELETE FROM greenflow_bookings WHERE booking_code = $1 AND sequence = 0 RETURNING 1) SELECT count(*)::int AS n FROM d",
      [registeredKey],
    );
    if (!gone?.n) {
      await sql.query(
        `UPDATE greenflow_bookings SET active = false, next_poll_at = NULL, local_number = NULL, stopped_reason = 'merged', stopped_at = now(), updated_at = now()
          WHERE booking_code = $1`,
        [registeredKey],
      );
    }
    return "merged";
  }
  await sql.query("UPDATE greenflow_bookings SET booking_code = $2, updated_at = now() WHERE booking_code = $1", [registeredKey, bookingCode]);
  return "renamed";
}

const STOP: Record<TrackedKind, string> = {
  mfb: `UPDATE mfb_orders SET active = false, next_poll_at = NULL, stopped_reason = $2, stopped_at = now(), last_error = COALESCE($3, last_error),
               last_polled_at = CASE WHEN $3::text IS NULL THEN last_polled_at ELSE now() END, sequence = sequence + 1, updated_at = now()
         WHERE id = $1::uuid AND active
        RETURNING id::text AS key, status, sequence, reference AS external_id, NULL::text AS local_number, carrier, product, price`,
  greenflow: `UPDATE greenflow_bookings SET active = false, next_poll_at = NULL, stopped_reason = $2, stopped_at = now(), last_error = COALESCE($3, last_error),
                     last_polled_at = CASE WHEN $3::text IS NULL THEN last_polled_at ELSE now() END, sequence = sequence + 1, updated_at = now()
               WHERE booking_code = $1 AND active
              RETURNING booking_code AS key, status, sequence, local_number AS external_id, local_number, NULL::text AS carrier, NULL::text AS product, NULL::jsonb AS price`,
};

/** What a stopped item was left with: its event's sequence (already taken), status and identity. */
export interface StoppedRow {
  key: string;
  status: string | null;
  sequence: number;
  external_id: string | null;
  local_number: string | null;
  carrier: string | null;
  product: string | null;
  price: unknown;
}

/**
 * Stops an active item (in the caller's transaction) and takes the next sequence number for the event that
 * says so; null when it was not active (stopped already: nothing to say twice). `lastError`: what the
 * provider answered, when a poll stopped it.
 */
export async function stopTrackedIn(sql: Sql, kind: TrackedKind, key: string, reason: string, lastError: string | null): Promise<StoppedRow | null> {
  const [row] = await sql.query<StoppedRow>(STOP[kind], [key, reason, lastError]);
  return row ?? null;
}

const DUE_NOW: Record<TrackedKind, string> = {
  mfb: "WITH u AS (UPDATE mfb_orders SET next_poll_at = now(), updated_at = now() WHERE active AND next_poll_at > now() RETURNING 1) SELECT count(*)::int AS n FROM u",
  greenflow:
    "WITH u AS (UPDATE greenflow_bookings SET next_poll_at = now(), updated_at = now() WHERE active AND next_poll_at > now() RETURNING 1) SELECT count(*)::int AS n FROM u",
};

/** Items parked until a provider pause's end are due again now (in the resume's transaction); how many. */
export async function makeParkedDue(sql: Sql, kind: TrackedKind): Promise<number> {
  const rows = await sql.query<{ n: number }>(DUE_NOW[kind]);
  return rows[0]?.n ?? 0;
}

/** GreenFlow bookings whose current status is a word its documentation does not define, by status. */
export async function undocumentedStatusCounts(db: Database): Promise<{ status: string | null; bookings: number }[]> {
  const rows = await prismaOf(db).greenflowBooking.groupBy({ by: ["status"], where: { unknownStatus: true, active: true }, _count: true });
  return rows.map((r) => ({ status: r.status, bookings: r._count }));
}

// --- MFB polls ------------------------------------------------------------------------------------------

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
    "SELECT status, sequence, active, reference, parcel_count, carrier, product, quiet_polls, last_movement_at, created_at, price FROM mfb_orders WHERE id = $1 FOR UPDATE",
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

const INSERT_EVENTS = `
WITH input AS (
  SELECT t.ord::int AS ord, t.parcel_index, t.code, t.happened_at, t.label::jsonb AS label, t.location::jsonb AS location, t.details::jsonb AS details
    FROM unnest($2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
         AS t(parcel_index, code, happened_at, label, location, details, ord)
), inserted AS (
  INSERT INTO mfb_tracking_events (order_id, parcel_index, code, happened_at, label, location, details)
  SELECT $1::uuid, parcel_index, code, happened_at, label, location, details FROM input
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
  const rows = await sql.query<{ ord: number; fingerprint: string }>(INSERT_EVENTS, [
    orderId,
    events.map((e) => e.parcelIndex),
    events.map((e) => e.code),
    events.map((e) => e.happenedAt),
    events.map((e) => JSON.stringify(e.label)),
    events.map((e) => (e.location ? JSON.stringify(e.location) : null)),
    events.map((e) => (e.details ? JSON.stringify(e.details) : null)),
  ]);
  return rows.map((r) => ({ index: r.ord - 1, fingerprint: r.fingerprint }));
}

/** Every stored event of the order in time order. */
export function trackingEventsOf(sql: Sql, orderId: string): Promise<StoredTrackingEvent[]> {
  return sql.query<StoredTrackingEvent>(
    "SELECT parcel_index, code, happened_at, details->>'code' AS detail_code FROM mfb_tracking_events WHERE order_id = $1 ORDER BY happened_at, id",
    [orderId],
  );
}

const UPSERT_PARCELS = `
INSERT INTO mfb_parcels (order_id, parcel_index, status, last_code, last_event_at)
SELECT $1::uuid, t.parcel_index, t.status, t.code, t.at
  FROM unnest($2::int[], $3::text[], $4::text[], $5::timestamptz[]) AS t(parcel_index, status, code, at)
ON CONFLICT (order_id, parcel_index) DO UPDATE SET status = EXCLUDED.status, last_code = EXCLUDED.last_code, last_event_at = EXCLUDED.last_event_at`;

export async function upsertParcels(sql: Sql, orderId: string, parcels: { parcelIndex: number; status: string; code: string; at: Date }[]): Promise<void> {
  if (parcels.length === 0) return;
  await sql.query(UPSERT_PARCELS, [
    orderId,
    parcels.map((p) => p.parcelIndex),
    parcels.map((p) => p.status),
    parcels.map((p) => p.code),
    parcels.map((p) => p.at),
  ]);
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

// --- GreenFlow polls ------------------------------------------------------------------------------------

export interface LockedBooking {
  status: string | null;
  gds_status: string | null;
  sequence: number;
  active: boolean;
  quiet_polls: number;
}

export async function lockGreenflowBooking(sql: Sql, bookingCode: string): Promise<LockedBooking | null> {
  const [row] = await sql.query<LockedBooking>(
    "SELECT status, gds_status, sequence, active, quiet_polls FROM greenflow_bookings WHERE booking_code = $1 FOR UPDATE",
    [bookingCode],
  );
  return row ?? null;
}

export interface GreenflowPollResult {
  status: string;
  gdsStatus: string | null;
  uuid: string | null;
  localNumber: string | null;
  pickupDate: string | null;
  dropoffDate: string | null;
  sequence: number;
  polledAt: Date;
  unknownStatus: boolean;
  quietPolls: number;
  /** Null with a stop reason: the booking reached a final status. */
  nextPollAt: Date | null;
  stoppedReason: string | null;
}

export async function saveGreenflowPoll(sql: Sql, bookingCode: string, r: GreenflowPollResult): Promise<void> {
  await sql.query(
    `UPDATE greenflow_bookings SET status = $2, gds_status = $3, uuid = $4, local_number = $5, pickup_date = $6, dropoff_date = $7, sequence = $8,
            last_polled_at = $9, consecutive_failures = 0, last_error = NULL, unknown_status = $10, quiet_polls = $11,
            next_poll_at = $12, active = $13, stopped_reason = $14, stopped_at = $15, updated_at = now()
      WHERE booking_code = $1`,
    [
      bookingCode,
      r.status,
      r.gdsStatus,
      r.uuid,
      r.localNumber,
      r.pickupDate,
      r.dropoffDate,
      r.sequence,
      r.polledAt,
      r.unknownStatus,
      r.quietPolls,
      r.nextPollAt,
      r.stoppedReason === null,
      r.stoppedReason,
      r.stoppedReason ? r.polledAt : null,
    ],
  );
}

/**
 * Tracked items matching `q`: an MFB order by id or reference, a GreenFlow booking by code or local number
 * (indexes: primary keys, mfb_orders_reference_idx, greenflow_bookings_local_number_idx).
 */
export async function searchTracked(db: Database, q: string, limit = 20) {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(q);
  const [orders, bookings] = await Promise.all([
    prismaOf(db).mfbOrder.findMany({
      where: { OR: [...(uuid ? [{ id: q }] : []), { reference: q }] },
      take: limit,
      select: { id: true, reference: true, status: true, active: true },
    }),
    prismaOf(db).greenflowBooking.findMany({
      where: { OR: [{ bookingCode: q }, { localNumber: q }, { registeredCode: q }] },
      take: limit,
      select: { bookingCode: true, localNumber: true, status: true, active: true },
    }),
  ]);
  return { orders, bookings };
}

export interface TrackedListItem {
  provider: TrackedKind;
  key: string;
  /** MFB: the partner's reference; GreenFlow: the local number. */
  secondary: string | null;
  status: string | null;
  active: boolean;
  stoppedReason: string | null;
  nextPollAt: Date | null;
}

/** Tracked items, newest first (both kinds), for the CLI; `active` only the ones still polled. */
export async function listTracked(db: Database, opts: { active?: boolean; limit: number }): Promise<TrackedListItem[]> {
  return onPool(db).query<TrackedListItem>(
    `SELECT * FROM (
       SELECT 'mfb' AS provider, id::text AS key, reference AS secondary, status, active, stopped_reason AS "stoppedReason", next_poll_at AS "nextPollAt", created_at FROM mfb_orders
        WHERE NOT $1::boolean OR active
       UNION ALL
       SELECT 'greenflow', booking_code, local_number, status, active, stopped_reason, next_poll_at, created_at FROM greenflow_bookings
        WHERE NOT $1::boolean OR active) t
      ORDER BY created_at DESC LIMIT $2`,
    [opts.active ?? false, opts.limit],
  );
}
