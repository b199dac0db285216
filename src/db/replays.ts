// Replays by time (POST /subscriptions/:id/replay, docs/delivery.md "Replaying a window"): the events of a
// window that a subscription takes, delivered to it again as deliveries of their own, and their progress.
import type { Database } from "./client.js";
import { matchesPatterns, orderedStatus, takesEvent } from "./fan-out.js";
import { onPool, type Sql } from "./sql.js";

export interface ReplayRequest {
  id: string;
  subscriptionId: string;
  since: Date;
  until: Date;
  subject: string | null;
  /** Narrowing by type patterns; empty: every type the subscription takes. */
  types: string[];
  requestedBy: string;
  /** Its deliveries come due this many per second, the first at once. */
  ratePerSecond: number;
}

/**
 * Whether event `e` lies in the window of `r` (a replay, or the request's parameters: since, until, subject,
 * types) and subscription `s` takes it today (its event types, its filters).
 */
const inWindow = (r: string) =>
  `e.position IS NOT NULL AND e.created_at >= ${r}.since AND e.created_at < ${r}.until AND (${r}.subject IS NULL OR e.subject = ${r}.subject)
   AND (cardinality(${r}.types) = 0 OR ${matchesPatterns(`${r}.types`, "e.type")})
   AND ${takesEvent("e")}`;

/**
 * Writes the replay, in the caller's transaction: the number of events of the window (by when the hub wrote
 * them) that the subscription takes and the narrowing keeps, and the log positions they lie between; null when
 * the subscription is gone. Its deliveries are written in parts by `feedReplay`, the first due at once.
 */
export async function writeReplay(sql: Sql, r: ReplayRequest): Promise<number | null> {
  const [row] = await sql.query<{ events: number }>(
    `WITH s AS (
       SELECT * FROM subscriptions WHERE id = $1::uuid AND deleted_at IS NULL
     ), q AS (
       SELECT $2::timestamptz AS since, $3::timestamptz AS until, $4::text AS subject, $5::text[] AS types
     ), ev AS (
       SELECT count(*)::int AS n, min(e.position) AS first, max(e.position) AS last FROM events e, s, q WHERE ${inWindow("q")}
     )
     INSERT INTO replays (id, subscription_id, since, until, subject, types, events, requested_by, rate_per_second, last_position, next_position, next_due_at)
     SELECT $6::uuid, s.id, q.since, q.until, q.subject, q.types, ev.n, $7, $8::float8, ev.last, ev.first, now()
       FROM s, q, ev
     RETURNING events`,
    [r.subscriptionId, r.since, r.until, r.subject, r.types, r.id, r.requestedBy, r.ratePerSecond],
  );
  return row ? row.events : null;
}

/**
 * How far ahead of its pace a replay's deliveries are written, and at most how many in one part: a part is
 * a few hundred rows (100 a second by default: 500), not the window's every row in one statement.
 */
export const REPLAY_PARTS = { aheadMs: 5_000, maxRows: 1_000, batchMs: 250 } as const;

export interface FeedOptions {
  /** Write the deliveries that come due within this many milliseconds. */
  aheadMs: number;
  /** Deliveries per part at most. */
  maxRows: number;
  /**
   * Deliveries come due together, this many milliseconds of pace at a time (25 at once every 250 ms at 100 a
   * second): a lane claims and records them in one go instead of a few every 50 ms.
   */
  batchMs: number;
  /** The time to compare with (a test's held clock); null: the database's. */
  now: Date | null;
  /** Only this replay (its first part, written with the request); otherwise the one whose next part is due first. */
  replayId?: string;
}

/** One part written: whose lane has new deliveries, how many, and whether the replay is now written whole. */
export interface FedPart {
  replayId: string;
  subscriptionId: string;
  written: number;
  finished: boolean;
}

/**
 * Writes the next part of one replay whose next delivery comes due within `aheadMs` (SKIP LOCKED: feeders in
 * several processes share the replays, and one replay's parts are written one after another): its next events
 * in log order, as many as its pace covers in `aheadMs` (at most `maxRows`), each due 1/rate after the one
 * before (from when the last part ended, or now if that has passed), with the events' log positions, so that
 * the lane claims them in log order. In ordered mode each subject's first is pending and the rest held,
 * released one by one as for any delivery (db/delivery-attempts.ts), across parts too: a subject with a
 * delivery still pending or held gets its next one held. Null when no replay has a part due.
 */
export async function feedReplay(sql: Sql, o: FeedOptions): Promise<FedPart | null> {
  const [r] = await sql.query<NextPart>(
    `SELECT x.id, x.subscription_id, x.since, x.until, x.subject, x.types, x.rate_per_second, x.next_position, x.last_position,
            least($4::int, greatest(1, ceil(x.rate_per_second * $3::float8 / 1000)))::int AS part,
            greatest(x.next_due_at, COALESCE($2::timestamptz, now())) AS at
       FROM replays x
      WHERE x.next_position IS NOT NULL AND ($1::uuid IS NULL OR x.id = $1::uuid)
        AND x.next_due_at <= COALESCE($2::timestamptz, now()) + make_interval(secs => $3::float8 / 1000)
      ORDER BY x.next_due_at LIMIT 1
      FOR UPDATE SKIP LOCKED`,
    [o.replayId ?? null, o.now, o.aheadMs, o.maxRows],
  );
  if (!r) return null;
  // A statement of its own, with the replay's values as parameters: the planner sees how wide the window is,
  // so it reads the log's positions in order and stops after a part's events rather than sorting the window.
  const [row] = await sql.query<{ written: number; finished: boolean }>(
    `WITH s AS (
       SELECT * FROM subscriptions WHERE id = $2::uuid AND deleted_at IS NULL
     ), q AS (
       SELECT $5::timestamptz AS since, $6::timestamptz AS until, $7::text AS subject, $8::text[] AS types
     ), ev AS (
       SELECT e.id, e.subject, e.position, row_number() OVER (PARTITION BY e.subject ORDER BY e.position) AS nth,
              row_number() OVER (ORDER BY e.position) AS k
         FROM (SELECT e.id, e.subject, e.position FROM events e, s, q
                WHERE e.position >= $3::bigint AND e.position <= $4::bigint AND ${inWindow("q")}
                ORDER BY e.position LIMIT $9::int) e
     ), written AS (
       INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at, replay_id)
       SELECT gen_random_uuid(), ev.id, s.id,
              ${orderedStatus("s.ordering", "ev.nth", "s.id", "ev.subject")},
              CASE WHEN s.ordering = 'subject' THEN ev.subject END, ev.position,
              $10::timestamptz + make_interval(secs => (ev.k - 1) / $12::int * $12::int / $11::float8),
              $10::timestamptz + make_interval(secs => (ev.k - 1) / $12::int * $12::int / $11::float8),
              now(), $1::uuid
         FROM ev, s
       ON CONFLICT (event_id, subscription_id, replay_id) DO NOTHING
       RETURNING id
     ), got AS (
       SELECT count(*)::int AS n, max(position) AS last FROM ev
     ), moved AS (
       UPDATE replays x
          SET next_position = CASE WHEN got.n < $9::int OR got.last >= $4::bigint THEN NULL ELSE got.last + 1 END,
              next_due_at = $10::timestamptz + make_interval(secs => got.n / $11::float8),
              written = x.written + (SELECT count(*) FROM written)
         FROM got WHERE x.id = $1::uuid
        RETURNING x.next_position
     )
     SELECT (SELECT count(*) FROM written)::int AS written, (SELECT next_position FROM moved) IS NULL AS finished`,
    [
      r.id,
      r.subscription_id,
      r.next_position,
      r.last_position,
      r.since,
      r.until,
      r.subject,
      r.types,
      r.part,
      r.at,
      r.rate_per_second,
      Math.max(1, Math.floor((r.rate_per_second * o.batchMs) / 1000)),
    ],
  );
  return { replayId: r.id, subscriptionId: r.subscription_id, written: row!.written, finished: row!.finished };
}

/** The replay whose part `feedReplay` writes, locked, as its first statement reads it. */
interface NextPart {
  id: string;
  subscription_id: string;
  since: Date;
  until: Date;
  subject: string | null;
  types: string[];
  rate_per_second: number;
  next_position: string;
  last_position: string;
  part: number;
  at: Date;
}

/** A replay as asked for (its pace aside), how many events it has, and where its deliveries stand. */
export interface ReplayProgress extends Omit<ReplayRequest, "ratePerSecond"> {
  events: number;
  /** Its deliveries written so far (they are written a few seconds ahead of its pace). */
  written: number;
  /** Every delivery it will have is written. */
  fed: boolean;
  createdAt: Date;
  /** Its deliveries by status (pending, held, succeeded, failed, cancelled), pruned ones no longer counted. */
  deliveries: Record<string, number>;
}

/** A replay and its deliveries by status (index: replay_id). */
const REPLAY_COLUMNS = `SELECT r.id, r.subscription_id AS "subscriptionId", r.since, r.until, r.subject, r.types, r.events, r.requested_by AS "requestedBy",
       r.written, r.next_position IS NULL AS fed, r.created_at AS "createdAt",
       (SELECT jsonb_object_agg(c.status, c.n) FROM (SELECT d.status, count(*)::int AS n FROM webhook_deliveries d
                                                     WHERE d.replay_id = r.id GROUP BY d.status) c) AS deliveries
  FROM replays r`;

/** One replay of a subscription with its deliveries counted by status (index: replay_id); null when unknown. */
export async function replayProgress(db: Database, subscriptionId: string, replayId: string): Promise<ReplayProgress | null> {
  const [row] = await onPool(db).query<Omit<ReplayProgress, "deliveries"> & { deliveries: Record<string, number> | null }>(
    `${REPLAY_COLUMNS} WHERE r.id = $1::uuid AND r.subscription_id = $2::uuid`,
    [replayId, subscriptionId],
  );
  return row ? { ...row, deliveries: row.deliveries ?? {} } : null;
}

/** The oldest event the log still holds (when it was written); null when it is empty. */
export async function oldestEventAt(db: Database): Promise<Date | null> {
  const [row] = await onPool(db).query<{ oldest: Date | null }>("SELECT min(created_at) AS oldest FROM events");
  return row?.oldest ?? null;
}

/** A subscription's latest replays, newest first, each with its deliveries counted by status. */
export async function recentReplays(db: Database, subscriptionId: string, limit: number): Promise<ReplayProgress[]> {
  const rows = await onPool(db).query<ReplayProgress & { deliveries: Record<string, number> | null }>(
    `${REPLAY_COLUMNS} WHERE r.subscription_id = $1::uuid ORDER BY r.created_at DESC, r.id DESC LIMIT $2`,
    [subscriptionId, limit],
  );
  return rows.map((row) => ({ ...row, deliveries: row.deliveries ?? {} }));
}
