// Retention: each kind of data is kept for its configured time, then pruned in small batches (one short
// statement or transaction each, oldest first, rows in use skipped), so pruning never holds locks the hot
// path needs for long. Every batch reports the rows and bytes it removed.
import type { Database } from "./client.js";
import { withTransaction } from "./sql.js";
import { poolOf } from "./clients.js";

export const RETENTION_KINDS = ["inbound_bodies", "inbound_rows", "succeeded_deliveries", "failed_deliveries", "events", "tracking", "audit"] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

export interface Pruned {
  rows: number;
  bytes: number;
}

interface CountRow {
  rows: string | number | null;
  bytes: string | number | null;
}
const pruned = (r: CountRow | undefined): Pruned => ({ rows: Number(r?.rows ?? 0), bytes: Number(r?.bytes ?? 0) });

// Raw bodies of deliveries that are done with (processed, ignored); rejected and failed ones keep theirs
// with the row, for an operator to inspect and replay.
const PRUNE_BODIES = `
WITH victims AS (
  SELECT id, octet_length(raw_body) AS bytes FROM inbound_deliveries
   WHERE body_pruned_at IS NULL AND received_at < $1 AND status IN ('processed', 'ignored')
   ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED
), cleared AS (
  UPDATE inbound_deliveries d SET raw_body = '\\x'::bytea, body_pruned_at = now() FROM victims v WHERE d.id = v.id RETURNING d.id
)
SELECT count(*) AS rows, COALESCE(sum(v.bytes), 0) AS bytes FROM victims v JOIN cleared c ON c.id = v.id`;

// Whole rows, once past the duplicate-recognition horizon. A row still waiting to be applied is never pruned.
const PRUNE_INBOUND_ROWS = `
WITH victims AS (
  SELECT id FROM inbound_deliveries WHERE received_at < $1 AND status <> 'received'
   ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
DELETE FROM inbound_deliveries d USING victims v WHERE d.id = v.id
RETURNING pg_column_size(d.*) AS size`;

const PICK_DELIVERIES = `
SELECT id FROM webhook_deliveries WHERE status = ANY($3::text[]) AND created_at < $1
 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`;

// Events nobody will deliver again: past retention and with no delivery row left (those go first).
const PRUNE_EVENTS = `
WITH victims AS (
  SELECT e.id FROM events e
   WHERE e.created_at < $1 AND e.position IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
   ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM events e USING victims v WHERE e.id = v.id RETURNING e.position, pg_column_size(e.*) AS size
), horizon AS (
  UPDATE event_log_head SET pruned_through = GREATEST(pruned_through, (SELECT max(position) FROM gone))
   WHERE id = 1 AND EXISTS (SELECT 1 FROM gone)
)
SELECT count(*) AS rows, COALESCE(sum(size), 0) AS bytes FROM gone`;

// Replays past the events' retention (their window can no longer be asked for again), written whole, whose deliveries are gone.
const PRUNE_REPLAYS = `
WITH victims AS (
  SELECT r.id FROM replays r
   WHERE r.created_at < $1 AND r.next_position IS NULL AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.replay_id = r.id)
   ORDER BY r.created_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
DELETE FROM replays r USING victims v WHERE r.id = v.id RETURNING pg_column_size(r.*) AS size`;

const PRUNE_AUDIT = `
WITH victims AS (SELECT id FROM audit_log WHERE created_at < $1 ORDER BY created_at LIMIT $2)
DELETE FROM audit_log a USING victims v WHERE a.id = v.id RETURNING pg_column_size(a.*) AS size`;

const sumSizes = (rows: { size: number }[]): Pruned => ({ rows: rows.length, bytes: rows.reduce((n, r) => n + Number(r.size), 0) });

/** Deliveries (and their attempts) in the given statuses, older than the cutoff. */
async function pruneDeliveries(db: Database, cutoff: Date, batch: number, statuses: string[]): Promise<Pruned> {
  return withTransaction(db, async (sql) => {
    const ids = (await sql.query<{ id: string }>(PICK_DELIVERIES, [cutoff, batch, statuses])).map((r) => r.id);
    if (ids.length === 0) return { rows: 0, bytes: 0 };
    const attempts = await sql.query<{ size: number }>(
      "DELETE FROM delivery_attempts a WHERE a.webhook_delivery_id = ANY($1::uuid[]) RETURNING pg_column_size(a.*) AS size",
      [ids],
    );
    const deliveries = await sql.query<{ size: number }>(
      "DELETE FROM webhook_deliveries d WHERE d.id = ANY($1::uuid[]) RETURNING pg_column_size(d.*) AS size",
      [ids],
    );
    const a = sumSizes(attempts);
    const d = sumSizes(deliveries);
    return { rows: d.rows, bytes: a.bytes + d.bytes };
  });
}

/** Finished MFB orders and GreenFlow bookings (stopped before the cutoff), with their history. */
async function pruneTracking(db: Database, cutoff: Date, batch: number): Promise<Pruned> {
  return withTransaction(db, async (sql) => {
    const orders = (
      await sql.query<{ id: string }>("SELECT id FROM mfb_orders WHERE NOT active AND stopped_at < $1 ORDER BY stopped_at LIMIT $2 FOR UPDATE SKIP LOCKED", [
        cutoff,
        batch,
      ])
    ).map((r) => r.id);
    let result: Pruned = { rows: 0, bytes: 0 };
    if (orders.length > 0) {
      const events = await sql.query<{ size: number }>(
        "DELETE FROM mfb_tracking_events t WHERE t.order_id = ANY($1::uuid[]) RETURNING pg_column_size(t.*) AS size",
        [orders],
      );
      const parcels = await sql.query<{ size: number }>("DELETE FROM mfb_parcels p WHERE p.order_id = ANY($1::uuid[]) RETURNING pg_column_size(p.*) AS size", [
        orders,
      ]);
      const gone = await sql.query<{ size: number }>("DELETE FROM mfb_orders o WHERE o.id = ANY($1::uuid[]) RETURNING pg_column_size(o.*) AS size", [orders]);
      result = { rows: gone.length, bytes: sumSizes(events).bytes + sumSizes(parcels).bytes + sumSizes(gone).bytes };
    }
    const bookings = await sql.query<{ size: number }>(
      `DELETE FROM greenflow_bookings b WHERE b.booking_code IN (
         SELECT booking_code FROM greenflow_bookings WHERE NOT active AND stopped_at < $1 ORDER BY stopped_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING pg_column_size(b.*) AS size`,
      [cutoff, batch],
    );
    const b = sumSizes(bookings);
    return { rows: result.rows + b.rows, bytes: result.bytes + b.bytes };
  });
}

/** One batch of one kind: at most `batch` rows older than `cutoff`. */
export async function pruneBatch(db: Database, kind: RetentionKind, cutoff: Date, batch: number): Promise<Pruned> {
  switch (kind) {
    case "inbound_bodies":
      return pruned((await poolOf(db).query<CountRow>(PRUNE_BODIES, [cutoff, batch])).rows[0]);
    case "inbound_rows":
      return sumSizes((await poolOf(db).query<{ size: number }>(PRUNE_INBOUND_ROWS, [cutoff, batch])).rows);
    case "succeeded_deliveries":
      return pruneDeliveries(db, cutoff, batch, ["succeeded"]);
    case "failed_deliveries":
      // Failed deliveries stay until an operator resolves them (re-sent, they become succeeded) or this long.
      return pruneDeliveries(db, cutoff, batch, ["failed", "cancelled"]);
    case "events": {
      const events = pruned((await poolOf(db).query<CountRow>(PRUNE_EVENTS, [cutoff, batch])).rows[0]);
      const replays = sumSizes((await poolOf(db).query<{ size: number }>(PRUNE_REPLAYS, [cutoff, batch])).rows);
      return { rows: events.rows + replays.rows, bytes: events.bytes + replays.bytes };
    }
    case "tracking":
      return pruneTracking(db, cutoff, batch);
    case "audit":
      return sumSizes((await poolOf(db).query<{ size: number }>(PRUNE_AUDIT, [cutoff, batch])).rows);
  }
}

/** The oldest row each table keeps, and its approximate size: the admin view. */
export async function oldestKept(db: Database) {
  const { rows } = await poolOf(db).query<{ name: string; oldest: Date | null }>(`
    SELECT 'inbound_deliveries' AS name, (SELECT min(received_at) FROM inbound_deliveries) AS oldest
    UNION ALL SELECT 'inbound_bodies', (SELECT min(received_at) FROM inbound_deliveries WHERE body_pruned_at IS NULL)
    UNION ALL SELECT 'webhook_deliveries', (SELECT min(created_at) FROM webhook_deliveries)
    UNION ALL SELECT 'delivery_attempts', (SELECT min(attempted_at) FROM delivery_attempts)
    UNION ALL SELECT 'events', (SELECT min(created_at) FROM events)
    UNION ALL SELECT 'mfb_orders', (SELECT min(stopped_at) FROM mfb_orders WHERE NOT active)
    UNION ALL SELECT 'greenflow_bookings', (SELECT min(stopped_at) FROM greenflow_bookings WHERE NOT active)
    UNION ALL SELECT 'audit_log', (SELECT min(created_at) FROM audit_log)`);
  const sizes = await poolOf(db).query<{ name: string; bytes: string; estimated_rows: string }>(
    `SELECT relname AS name, pg_total_relation_size(oid) AS bytes, GREATEST(reltuples, 0)::bigint AS estimated_rows
       FROM pg_class WHERE relkind = 'r' AND relname = ANY($1::text[])`,
    [
      [
        "inbound_deliveries",
        "webhook_deliveries",
        "delivery_attempts",
        "events",
        "mfb_orders",
        "greenflow_bookings",
        "audit_log",
        "mfb_tracking_events",
        "reservation_transitions",
      ],
    ],
  );
  return { oldest: rows, tables: sizes.rows.map((r) => ({ name: r.name, bytes: Number(r.bytes), estimatedRows: Number(r.estimated_rows) })) };
}

/** Positions at or below this were pruned. */
export async function prunedThrough(db: Database): Promise<bigint> {
  const { rows } = await poolOf(db).query<{ pruned_through: string }>("SELECT pruned_through FROM event_log_head WHERE id = 1");
  return BigInt(rows[0]?.pruned_through ?? 0);
}
