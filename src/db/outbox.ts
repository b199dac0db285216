// The outbox: normalized events written inside the caller's transaction, and the relay's statement that
// gives them their public log positions and their deliveries.
import { randomUUID } from "node:crypto";
import { createEvent } from "../domain/event-catalog.js";
import type { CloudEvent, NewEvent } from "../domain/events.js";
import type { Database } from "./client.js";
import { fanOutCte } from "./fan-out.js";
import { type Sql, withTransaction } from "./sql.js";
import { carrierOf, rememberEventTrace } from "../observability/trace.js";

const json = (value: unknown) => (value == null ? null : JSON.stringify(value));

const INSERT = `
INSERT INTO events (id, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, request_id, trace_context)
SELECT t.id::uuid, t.source, t.type, t.subject, t.entity, t.entity_id, t.sequence::int, t.time::timestamptz, t.dedupe_key, t.envelope::jsonb,
    t.request_id, $12::jsonb
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
       AS t(id, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, request_id)`;

/**
 * Inserts the events in the caller's transaction (one statement). `dedupe_key` and
 * (entity, entity_id, sequence) are unique, so writing the same fact twice fails the transaction instead
 * of emitting it twice.
 */
export async function writeEvents(sql: Sql, events: NewEvent[], requestId?: string | null): Promise<CloudEvent[]> {
  const envelopes = events.map((e) => createEvent(e, randomUUID()));
  if (envelopes.length === 0) return envelopes;
  const column = <T>(pick: (e: CloudEvent, i: number) => T) => envelopes.map(pick);
  const carrier = carrierOf();
  for (const e of envelopes) rememberEventTrace(e.id, carrier);
  await sql.query(INSERT, [
    column((e) => e.id),
    column((e) => e.source),
    column((e) => e.type),
    column((e) => e.subject),
    column((e) => e.data.entity),
    column((e) => e.data.entityId),
    column((e) => String(e.data.sequence)),
    column((e) => e.time),
    column((_, i) => events[i]!.dedupeKey),
    column((e) => JSON.stringify(e)),
    column(() => requestId ?? null),
    // The active span (a poll's, a look-up's, an operator's request): its trace continues through delivery.
    json(carrier),
  ]);
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
  RETURNING e.id, e.type, e.subject, e.position, e.request_id
), ${fanOutCte("positioned")}
SELECT (SELECT count(*) FROM pending)::int AS relayed, (SELECT count(*) FROM positioned)::int AS positioned, f.id AS delivery_id, f.subscription_id
  FROM (SELECT 1) one LEFT JOIN (fan_out f JOIN positioned p ON p.id = f.event_id) ON true`;

/**
 * One relay batch: up to `batch` unpositioned events get their log positions from the event_log_head row and
 * one delivery row per matching active subscription. The head's lock is taken first, in its own statement, so
 * relays (and the Flovi inbox, which positions its own events under the same lock) take turns, and the
 * statement's snapshot, taken after the lock, sees every event committed before it: no relay positions an
 * entity's later event while another holds an earlier one, and positions grow in commit order.
 */
export async function relayBatch(
  db: Database,
  batch: number,
): Promise<{ relayed: number; pending: number; deliveries: { webhookDeliveryId: string; subscriptionId: string }[] }> {
  const rows = await withTransaction(db, async (sql) => {
    await sql.query("SELECT 1 FROM event_log_head WHERE id = 1 FOR UPDATE");
    return sql.query<{ relayed: number; positioned: number; delivery_id: string | null; subscription_id: string | null }>(RELAY, [batch]);
  });
  return {
    relayed: rows[0]?.positioned ?? 0,
    pending: rows[0]?.relayed ?? 0,
    deliveries: rows.flatMap((r) => (r.delivery_id && r.subscription_id ? [{ webhookDeliveryId: r.delivery_id, subscriptionId: r.subscription_id }] : [])),
  };
}
