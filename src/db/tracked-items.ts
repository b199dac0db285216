// Tracked MFB orders and GreenFlow bookings: registration, the sweep's claim, what a poll reads and writes,
// and an operator's stop. Statements are written out per table (no table name is spliced into SQL).
import type { GreenflowBooking, MfbOrder } from "../generated/prisma/client.js";
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
               WHERE booking_code IN (SELECT booking_code FROM greenflow_bookings
                   WHERE active AND next_poll_at <= now() ORDER BY next_poll_at LIMIT $1 FOR UPDATE SKIP LOCKED)
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
        `UPDATE greenflow_bookings SET active = false, next_poll_at = NULL, local_number = NULL, stopped_reason = 'merged', stopped_at = now(),
            updated_at = now()
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
              RETURNING booking_code AS key, status, sequence, local_number AS external_id, local_number, NULL::text AS carrier,
                  NULL::text AS product, NULL::jsonb AS price`,
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
  mfb: `WITH u AS (UPDATE mfb_orders SET next_poll_at = now(), updated_at = now()
      WHERE active AND next_poll_at > now() RETURNING 1) SELECT count(*)::int AS n FROM u`,
  greenflow: `WITH u AS (UPDATE greenflow_bookings SET next_poll_at = now(), updated_at = now()
        WHERE active AND next_poll_at > now() RETURNING 1) SELECT count(*)::int AS n FROM u`,
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

interface TrackedListItem {
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
       SELECT 'mfb' AS provider, id::text AS key, reference AS secondary, status, active, stopped_reason AS "stoppedReason",
           next_poll_at AS "nextPollAt", created_at FROM mfb_orders
        WHERE NOT $1::boolean OR active
       UNION ALL
       SELECT 'greenflow', booking_code, local_number, status, active, stopped_reason, next_poll_at, created_at FROM greenflow_bookings
        WHERE NOT $1::boolean OR active) t
      ORDER BY created_at DESC LIMIT $2`,
    [opts.active ?? false, opts.limit],
  );
}
