// Replays by time (POST /subscriptions/:id/replay, docs/delivery.md "Replaying a window"): the events of a
// window that a subscription takes, delivered to it again as deliveries of their own, and their progress.
import type { Database } from "./client.js";
import { matchesPatterns, matchesSubscription, orderedStatus } from "./fan-out.js";
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
 * Writes the replay and one delivery per event of the window (by when the hub wrote it) that the subscription
 * takes (its event types, its filters) and the narrowing keeps, in the caller's transaction; the number of
 * events, or null when the subscription is gone. The deliveries come due one after another at the replay's
 * rate, in log order (and carry the events' log positions), so a lane claims them in log order; in ordered mode
 * each subject's first is pending and the rest held, released one by one as for any delivery
 * (db/delivery-attempts.ts).
 */
export async function writeReplay(sql: Sql, r: ReplayRequest): Promise<number | null> {
  const [row] = await sql.query<{ events: number }>(
    `WITH s AS (
       SELECT * FROM subscriptions WHERE id = $1::uuid AND deleted_at IS NULL
     ), ev AS (
       SELECT e.id, e.subject, e.position, row_number() OVER (PARTITION BY e.subject ORDER BY e.position) AS nth,
              row_number() OVER (ORDER BY e.position) AS k
         FROM events e, s
        WHERE e.position IS NOT NULL AND e.created_at >= $2 AND e.created_at < $3 AND ($4::text IS NULL OR e.subject = $4)
          AND (cardinality($5::text[]) = 0 OR ${matchesPatterns("$5::text[]", "e.type")})
          AND ${matchesSubscription("e.type")} AND (s.filters = '[]'::jsonb OR hub_filter_matches(s.filters, e.envelope))
     ), r AS (
       INSERT INTO replays (id, subscription_id, since, until, subject, types, events, requested_by)
       SELECT $6::uuid, s.id, $2, $3, $4, $5::text[], (SELECT count(*) FROM ev), $7 FROM s
       RETURNING id, events
     ), written AS (
       INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at, replay_id)
       SELECT gen_random_uuid(), ev.id, s.id,
              ${orderedStatus("s.ordering", "ev.nth", "s.id", "ev.subject")},
              CASE WHEN s.ordering = 'subject' THEN ev.subject END, ev.position,
              now() + make_interval(secs => (ev.k - 1) / $8::float8), now() + make_interval(secs => (ev.k - 1) / $8::float8), now(), r.id
         FROM ev, s, r
     )
     SELECT events FROM r`,
    [r.subscriptionId, r.since, r.until, r.subject, r.types, r.id, r.requestedBy, r.ratePerSecond],
  );
  return row ? row.events : null;
}

/** A replay as asked for (its pace aside), how many events it has, and where its deliveries stand. */
export interface ReplayProgress extends Omit<ReplayRequest, "ratePerSecond"> {
  events: number;
  createdAt: Date;
  /** Its deliveries by status (pending, held, succeeded, failed, cancelled), pruned ones no longer counted. */
  deliveries: Record<string, number>;
}

/** A replay and its deliveries by status (index: replay_id). */
const REPLAY_COLUMNS = `SELECT r.id, r.subscription_id AS "subscriptionId", r.since, r.until, r.subject, r.types, r.events, r.requested_by AS "requestedBy",
       r.created_at AS "createdAt",
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
