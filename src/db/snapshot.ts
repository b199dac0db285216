// The current state of every reservation, shipment or rental, one keyset page at a time, each beside the event
// that set it (GET /snapshot/<kind>, docs/events.md "Starting from a snapshot").
import type { Database } from "./client.js";
import { onPool } from "./sql.js";

export type SnapshotEntity = "reservation" | "shipment" | "rental";

/** One entity as it stands: its key and state, and its latest event's data (null when retention pruned it). */
export interface SnapshotRow {
  key: string;
  sequence: number;
  externalId: string | null;
  status: string | null;
  changedAt: Date;
  eventId: string | null;
  /** The latest event's `time`, when kept. */
  time: Date | null;
  /** The latest event's `data` as the JSON text Postgres stores, when kept. */
  data: string | null;
}

/**
 * Per entity: its table, key, the state columns, and when it is final (nothing more will be said of it unless an
 * operator resumes it). An entity nothing was emitted about yet (sequence 0) is not listed: its first event has a
 * sequence above anything a consumer holds, so it comes with the log.
 */
const SOURCES: Record<SnapshotEntity, { from: string; key: string; keyType: string; externalId: string; status: string; changedAt: string; open: string }> = {
  reservation: {
    from: "reservations",
    key: "id",
    keyType: "text",
    externalId: "external_id",
    status: "state",
    changedAt: "last_changed_at",
    open: "state NOT IN ('final_costs', 'cancelled')",
  },
  shipment: { from: "mfb_orders", key: "id", keyType: "uuid", externalId: "reference", status: "status", changedAt: "updated_at", open: "active" },
  rental: {
    from: "greenflow_bookings",
    key: "booking_code",
    keyType: "text",
    externalId: "local_number",
    status: "status",
    changedAt: "updated_at",
    open: "active",
  },
};

/** The public log's last position: every event at or below it committed, with its entity's state, before this read. */
export async function logHead(db: Database): Promise<bigint> {
  const [row] = await onPool(db).query<{ last_position: string }>("SELECT last_position::text AS last_position FROM event_log_head WHERE id = 1");
  return BigInt(row?.last_position ?? "0");
}

/**
 * Up to `limit` entities after `after` in key order (the primary key's index); `all`: final ones too, those whose
 * latest event retention still keeps. The latest event is found by its (entity, entity_id, sequence) key, in
 * the same statement as the state, so the two agree.
 */
export async function snapshotPage(db: Database, entity: SnapshotEntity, opts: { after: string | null; all: boolean; limit: number }): Promise<SnapshotRow[]> {
  const s = SOURCES[entity];
  const rows = await onPool(db).query<{
    key: string;
    sequence: number;
    external_id: string | null;
    status: string | null;
    changed_at: Date;
    event_id: string | null;
    time: Date | null;
    data: string | null;
  }>(
    `SELECT t.${s.key}::text AS key, t.sequence, t.${s.externalId} AS external_id, t.${s.status} AS status, t.${s.changedAt} AS changed_at,
            e.id::text AS event_id, e.time, (e.envelope -> 'data')::text AS data
       FROM ${s.from} t
       LEFT JOIN events e ON e.entity = $4 AND e.entity_id = t.${s.key}::text AND e.sequence = t.sequence
      WHERE t.sequence > 0 AND (t.${s.open} OR ($2 AND e.id IS NOT NULL)) AND ($1::${s.keyType} IS NULL OR t.${s.key} > $1::${s.keyType})
      ORDER BY t.${s.key}
      LIMIT $3`,
    [opts.after, opts.all, opts.limit, entity],
  );
  return rows.map((r) => ({
    key: r.key,
    sequence: r.sequence,
    externalId: r.external_id,
    status: r.status,
    changedAt: r.changed_at,
    eventId: r.event_id,
    time: r.time,
    data: r.data,
  }));
}
