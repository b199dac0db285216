// The outbox: normalized events written inside the caller's transaction, and the relay's statement that
// gives them their public log positions and their deliveries.
import { randomUUID } from "node:crypto";
import { createEvent } from "../domain/event-catalog.js";
import type { CloudEvent, NewEvent } from "../domain/events.js";
import type { Database } from "./client.js";
import { fanOutCte } from "./fan-out.js";
import { type Sql, withTransaction } from "./sql.js";
import { carrierOf, rememberEventTrace } from "../observability/spans.js";
import { columnsFor, unnestLayout } from "./unnest.js";

const json = (value: unknown) => (value == null ? null : JSON.stringify(value));

/** An event row as written: the envelope, its dedupe key, the request and the trace it was written in. */
interface EventRow {
  envelope: CloudEvent;
  dedupeKey: string;
  requestId: string | null;
  traceContext: string | null;
}

/** The insert's columns, each one's type and value on one line (src/db/unnest.ts numbers them). */
const COLUMNS = unnestLayout({
  events: columnsFor<EventRow>({
    id: ["uuid", (r) => r.envelope.id],
    source: ["text", (r) => r.envelope.source],
    type: ["text", (r) => r.envelope.type],
    subject: ["text", (r) => r.envelope.subject],
    entity: ["text", (r) => r.envelope.data.entity],
    entity_id: ["text", (r) => r.envelope.data.entityId],
    sequence: ["int", (r) => r.envelope.data.sequence],
    time: ["timestamptz", (r) => r.envelope.time],
    dedupe_key: ["text", (r) => r.dedupeKey],
    envelope: ["jsonb", (r) => JSON.stringify(r.envelope)],
    request_id: ["text", (r) => r.requestId],
    trace_context: ["jsonb", (r) => r.traceContext],
  }),
});

const INSERT = `
INSERT INTO events (${COLUMNS.names("events")})
SELECT * FROM ${COLUMNS.unnest("events")}`;

/**
 * Inserts the events in the caller's transaction (one statement). `dedupe_key` and
 * (entity, entity_id, sequence) are unique, so writing the same fact twice fails the transaction instead
 * of emitting it twice.
 */
export async function writeEvents(sql: Sql, events: NewEvent[], requestId?: string | null): Promise<CloudEvent[]> {
  const envelopes = events.map((e) => createEvent(e, randomUUID()));
  if (envelopes.length === 0) return envelopes;
  const carrier = carrierOf();
  for (const e of envelopes) rememberEventTrace(e.id, carrier);
  // The active span (a poll's, a look-up's, an operator's request): its trace continues through delivery.
  const traceContext = json(carrier);
  const rows = envelopes.map((envelope, i) => ({ envelope, dedupeKey: events[i]!.dedupeKey, requestId: requestId ?? null, traceContext }));
  await sql.query(INSERT, COLUMNS.values({ events: rows }));
  return envelopes;
}

// Positions are given in the order events were produced: oldest transaction first (created_at), and within
// each entity strictly by `sequence` (an entity's k-th slot in the batch takes its k-th lowest sequence), so
// one transaction that wrote several events of one entity puts them in the log in sequence order whatever
// their ids. An event waits for the next batch while an earlier event of its entity is unpositioned and not in
// this one. The caller holds the head's lock before this statement takes its snapshot (see relayBatch).
const RELAY = `
WITH pending AS (
  SELECT id, created_at, entity, entity_id, sequence FROM events WHERE position IS NULL ORDER BY created_at, id LIMIT $1
), ready AS (
  SELECT p.* FROM pending p
   WHERE NOT EXISTS (SELECT 1 FROM events o
                      WHERE o.position IS NULL AND o.entity = p.entity AND o.entity_id = p.entity_id AND o.sequence < p.sequence
                        AND o.id NOT IN (SELECT id FROM pending))
), slots AS (
  SELECT id, entity, entity_id,
         row_number() OVER (ORDER BY created_at, id) AS ord,
         row_number() OVER (PARTITION BY entity, entity_id ORDER BY created_at, id) AS nth_slot,
         row_number() OVER (PARTITION BY entity, entity_id ORDER BY sequence) AS nth_sequence
    FROM ready
), numbered AS (
  SELECT b.id, a.ord FROM slots a JOIN slots b ON b.entity = a.entity AND b.entity_id = a.entity_id AND b.nth_sequence = a.nth_slot
), head AS (
  UPDATE event_log_head SET last_position = last_position + (SELECT count(*) FROM numbered)
   WHERE id = 1 AND EXISTS (SELECT 1 FROM numbered)
  RETURNING last_position - (SELECT count(*) FROM numbered) AS base
), positioned AS (
  UPDATE events e SET position = head.base + n.ord, relayed_at = now()
    FROM numbered n, head WHERE e.id = n.id
  RETURNING e.id, e.type, e.subject, e.position, e.envelope, e.request_id
), ${fanOutCte("positioned")}
SELECT (SELECT count(*) FROM pending)::int AS relayed, (SELECT count(*) FROM positioned)::int AS positioned, (SELECT count(DISTINCT event_id) FROM deferred)::int AS deferred,
       f.id AS delivery_id, f.subscription_id
  FROM (SELECT 1) one LEFT JOIN (fan_out f JOIN positioned p ON p.id = f.event_id) ON true`;

/**
 * One relay batch: up to `batch` unpositioned events get their log positions from the event_log_head row and
 * one delivery row per matching active subscription (beyond INLINE_FAN_OUT of them, in the backlog: `deferred`
 * counts the events that left some there). The head's lock is taken first, in its own statement, so
 * relays (and the Flovi inbox, which positions its own events under the same lock) take turns, and the
 * statement's snapshot, taken after the lock, sees every event committed before it: no relay positions an
 * entity's later event while another holds an earlier one, and positions grow in commit order.
 */
export async function relayBatch(
  db: Database,
  batch: number,
): Promise<{ relayed: number; pending: number; deferred: number; deliveries: { webhookDeliveryId: string; subscriptionId: string }[] }> {
  const rows = await withTransaction(db, async (sql) => {
    await sql.query("SELECT 1 FROM event_log_head WHERE id = 1 FOR UPDATE");
    return sql.query<{ relayed: number; positioned: number; deferred: number; delivery_id: string | null; subscription_id: string | null }>(RELAY, [batch]);
  });
  return {
    relayed: rows[0]?.positioned ?? 0,
    pending: rows[0]?.relayed ?? 0,
    deferred: rows[0]?.deferred ?? 0,
    deliveries: rows.flatMap((r) => (r.delivery_id && r.subscription_id ? [{ webhookDeliveryId: r.delivery_id, subscriptionId: r.subscription_id }] : [])),
  };
}
