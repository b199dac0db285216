// The fan-out backlog's second step: the deliveries a large fan-out left out of its writer's transaction
// (db/fan-out.ts, INLINE_FAN_OUT), written by the outbox relay after that commit. One statement per batch of
// events, oldest position first: it takes the events' backlog rows (SKIP LOCKED, so relays in several
// processes share the work), writes every delivery still missing to the subscriptions that existed when the
// event was written, and deletes the rows, all in one transaction: a crash leaves the rows for the next relay.
import type { Database } from "./client.js";
import { fanOutCte } from "./fan-out.js";
import { withTransaction } from "./sql.js";

const FAN_OUT_BACKLOG = `
WITH taken AS (
  DELETE FROM fan_out_backlog b
   WHERE b.event_id IN (SELECT event_id FROM fan_out_backlog ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING b.event_id
), backlog AS (
  SELECT e.id, e.type, e.subject, e.position, e.envelope, e.created_at FROM events e JOIN taken t ON t.event_id = e.id
), ${fanOutCte("backlog", { backlog: true })}
SELECT (SELECT count(*) FROM taken)::int AS taken, f.id AS delivery_id, f.subscription_id
  FROM (SELECT 1) one LEFT JOIN fan_out f ON true`;

/** Writes the backlog's deliveries for up to `events` events; the lanes that got new deliveries come back. */
export async function fanOutBacklogBatch(db: Database, events: number): Promise<{ events: number; deliveries: number; lanes: Set<string> }> {
  const rows = await withTransaction(db, (sql) =>
    sql.query<{ taken: number; delivery_id: string | null; subscription_id: string | null }>(FAN_OUT_BACKLOG, [events]),
  );
  const written = rows.filter((r) => r.delivery_id !== null);
  return { events: rows[0]?.taken ?? 0, deliveries: written.length, lanes: new Set(written.map((r) => r.subscription_id!)) };
}
