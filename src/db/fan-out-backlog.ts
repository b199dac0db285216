// The fan-out backlog's second step: the deliveries a large fan-out left out of its writer's transaction
// (db/fan-out.ts, INLINE_FAN_OUT), written by the outbox relay after that commit, as each destination can take
// them. A backlog row is one event's deferred deliveries to one destination (the subscriptions owed, listed).
// One statement per batch: for each destination with rows, if fewer than `room` deliveries wait there
// (hub_destination_waiting), it takes the destination's oldest rows (SKIP LOCKED, so relays in several
// processes share the work), writes the deliveries to the listed subscriptions still active, and deletes the
// rows, all in one transaction: a crash leaves the rows for the next relay. A destination without room keeps
// its rows: a host that answers slowly holds one row per event, not a delivery row per event and subscription.
import type { Database } from "./client.js";
import { orderedStatus } from "./fan-out.js";
import { withTransaction } from "./sql.js";

const FAN_OUT_BACKLOG = `
WITH destinations AS (
  SELECT destination_key FROM hub_backlog_destinations()
), open AS (
  SELECT d.destination_key FROM destinations d WHERE hub_destination_waiting(d.destination_key, $2) < $2
), taken AS (
  DELETE FROM fan_out_backlog b
   USING (SELECT c.event_id, c.destination_key FROM open o CROSS JOIN LATERAL (
            SELECT x.event_id, x.destination_key FROM fan_out_backlog x WHERE x.destination_key = o.destination_key
             ORDER BY x.position LIMIT $1 FOR UPDATE SKIP LOCKED) c) t
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
       (SELECT count(*) FROM destinations)::int - (SELECT count(*) FROM open)::int AS paced,
       f.subscription_id
  FROM (SELECT 1) one LEFT JOIN fan_out f ON true`;

export interface BacklogBatch {
  /** Backlog rows written (an event's deliveries to one destination each). */
  rows: number;
  deliveries: number;
  /** Lanes (subscription ids) that got new deliveries. */
  lanes: Set<string>;
  /** Destinations with rows that had no room: their rows wait for them to drain. */
  paced: number;
}

/**
 * Writes, for each destination with fewer than `room` deliveries waiting, the deliveries of its oldest
 * `rowsPerDestination` backlog rows.
 */
export async function fanOutBacklogBatch(db: Database, rowsPerDestination: number, room: number): Promise<BacklogBatch> {
  const rows = await withTransaction(db, (sql) =>
    sql.query<{ taken: number; paced: number; subscription_id: string | null }>(FAN_OUT_BACKLOG, [rowsPerDestination, room]),
  );
  const written = rows.filter((r) => r.subscription_id !== null);
  return {
    rows: rows[0]?.taken ?? 0,
    deliveries: written.length,
    lanes: new Set(written.map((r) => r.subscription_id!)),
    paced: rows[0]?.paced ?? 0,
  };
}
