// The fan-out backlog's second step: the deliveries a large fan-out left out of its writer's transaction
// (db/fan-out.ts, INLINE_FAN_OUT), written by the outbox relay after that commit, as each destination can take
// them. A backlog row is one event's deferred deliveries to one destination (the subscriptions owed, listed).
// One statement per batch: for each destination with rows, if fewer than `room` deliveries wait there
// (hub_destination_waiting), it takes the destination's oldest rows (SKIP LOCKED, so relays in several
// processes share the work) while the deliveries of the rows before each fit in what is left of the room
// (the first row always: an event's deliveries to one destination are written together; so 1,000
// subscriptions at one host get one or two events' deliveries at a time, not a batch's 4,000), writes the
// deliveries to the listed subscriptions still active, and deletes the rows, all in one transaction: a crash
// leaves the rows for the next relay. A destination without room keeps its rows: a host that answers slowly
// holds one row per event, not a delivery row per event and subscription.
// The relay does not count a destination it found without room again until its next re-check (`skip`).
// Before that, in the same transaction, the oldest marker rows (destination '', written by the event's writer:
// "every other subscription the event takes") become those destination rows: the event is matched against the
// active subscriptions that existed when it was written, less the ordered ones and those that already have its
// delivery, which its writer wrote.
import type { Database } from "./client.js";
import { orderedStatus, takesEvent } from "./fan-out.js";
import { withTransaction } from "./sql.js";

/** Marker rows matched per transaction at most (each may stand for a thousand subscriptions). */
export const MARKERS_PER_BATCH = 16;

const EXPAND_MARKERS = `
WITH markers AS (
  DELETE FROM fan_out_backlog b
   USING (SELECT x.event_id FROM fan_out_backlog x WHERE x.destination_key = '' ORDER BY x.position LIMIT ${MARKERS_PER_BATCH} FOR UPDATE SKIP LOCKED) t
   WHERE b.event_id = t.event_id AND b.destination_key = ''
  RETURNING b.event_id, b.position, b.created_at
), expanded AS (
  INSERT INTO fan_out_backlog (event_id, destination_key, position, created_at, subscription_ids)
  SELECT m.event_id, s.destination_key, m.position, m.created_at, array_agg(s.id ORDER BY s.id)
    FROM markers m JOIN events ev ON ev.id = m.event_id
    JOIN subscriptions s ON s.status = 'active' AND s.deleted_at IS NULL AND s.created_at <= ev.created_at AND s.ordering <> 'subject'
         AND ${takesEvent("ev")}
   WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries w WHERE w.event_id = m.event_id AND w.subscription_id = s.id AND w.replay_id IS NULL)
   GROUP BY m.event_id, s.destination_key, m.position, m.created_at
  ON CONFLICT (event_id, destination_key) DO NOTHING
)
SELECT count(*)::int AS markers FROM markers`;

const FAN_OUT_BACKLOG = `
WITH destinations AS (
  SELECT destination_key FROM hub_backlog_destinations() WHERE destination_key <> '' AND destination_key <> ALL ($3::text[])
), open AS (
  SELECT r.destination_key, r.room FROM (
    SELECT d.destination_key, $2 - hub_destination_waiting(d.destination_key, $2) AS room FROM destinations d) r
   WHERE r.room > 0
), taken AS (
  DELETE FROM fan_out_backlog b
   USING (SELECT c.event_id, c.destination_key FROM (
            SELECT l.event_id, l.destination_key, o.room, sum(l.owed) OVER (PARTITION BY l.destination_key ORDER BY l.position) - l.owed AS before
              FROM open o CROSS JOIN LATERAL (
                -- (Each list's length is read after the LIMIT: read before it, a sort would read every waiting row's
                -- list, 16 KB for 1,000 subscriptions, at every run of the relay.)
                SELECT y.event_id, y.destination_key, y.position, cardinality(y.subscription_ids) AS owed FROM (
                  SELECT x.event_id, x.destination_key, x.position, x.subscription_ids FROM fan_out_backlog x
                   WHERE x.destination_key = o.destination_key ORDER BY x.position LIMIT $1 FOR UPDATE SKIP LOCKED) y) l) c
           WHERE c.before < c.room) t
   WHERE b.event_id = t.event_id AND b.destination_key = t.destination_key
  RETURNING b.event_id, b.position, b.subscription_ids
), owed AS (
  SELECT t.event_id, t.position, e.subject, s.id AS subscription_id, s.ordering,
         row_number() OVER (PARTITION BY s.id, e.subject ORDER BY t.position) AS nth
    FROM taken t JOIN events e ON e.id = t.event_id
    JOIN subscriptions s ON s.id = ANY (t.subscription_ids) AND s.status = 'active' AND s.deleted_at IS NULL
), fan_out AS (
  INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at)
  SELECT gen_random_uuid(), o.event_id, o.subscription_id, ${orderedStatus("o.ordering", "o.nth", "o.subscription_id", "o.subject")},
         CASE WHEN o.ordering = 'subject' THEN o.subject END, o.position, now(), now(), now()
    FROM owed o
  ON CONFLICT (event_id, subscription_id, replay_id) DO NOTHING
  RETURNING subscription_id
)
SELECT (SELECT count(*) FROM taken)::int AS taken,
       ARRAY(SELECT d.destination_key FROM destinations d EXCEPT SELECT o.destination_key FROM open o ORDER BY 1) AS paced,
       f.subscription_id
  FROM (SELECT 1) one LEFT JOIN fan_out f ON true`;

export interface BacklogBatch {
  /** Marker rows (an event's "every other subscription") matched into destination rows. */
  markers: number;
  /** Backlog rows written (an event's deliveries to one destination each). */
  rows: number;
  deliveries: number;
  /** Lanes (subscription ids) that got new deliveries. */
  lanes: Set<string>;
  /** Destinations (keys) with rows that had no room: their rows wait for them to drain. */
  paced: string[];
}

/**
 * Matches the oldest marker rows into destination rows, then writes, for each destination
 * with fewer than `room` deliveries waiting, the deliveries of its oldest `rowsPerDestination` backlog rows.
 * Destinations in `skip` (found without room a moment ago) are not counted again.
 */
export async function fanOutBacklogBatch(db: Database, rowsPerDestination: number, room: number, skip: string[] = []): Promise<BacklogBatch> {
  const { markers, rows } = await withTransaction(db, async (sql) => {
    const [expanded] = await sql.query<{ markers: number }>(EXPAND_MARKERS);
    const rows = await sql.query<{ taken: number; paced: string[]; subscription_id: string | null }>(FAN_OUT_BACKLOG, [rowsPerDestination, room, skip]);
    return { markers: expanded?.markers ?? 0, rows };
  });
  const written = rows.filter((r) => r.subscription_id !== null);
  return {
    markers,
    rows: rows[0]?.taken ?? 0,
    deliveries: written.length,
    lanes: new Set(written.map((r) => r.subscription_id!)),
    paced: rows[0]?.paced ?? [],
  };
}
