// The outbox: normalized events written inside the caller's transaction, and the relay's statement that
// gives them their public log positions and their deliveries.
import { randomUUID } from "node:crypto";
import { createEvent } from "../domain/event-catalog.js";
import type { CloudEvent, NewEvent } from "../domain/events.js";
import type { Database } from "./client.js";
import { fanOutCte } from "./fan-out.js";
import { onPool, type Sql } from "./sql.js";
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

const RELAY = `
WITH pending AS (
  SELECT id, created_at FROM events WHERE position IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
), numbered AS (
  SELECT id, row_number() OVER (ORDER BY created_at, id) AS ord FROM pending
), head AS (
  UPDATE event_log_head SET last_position = last_position + (SELECT count(*) FROM pending)
   WHERE id = 1 AND EXISTS (SELECT 1 FROM pending)
  RETURNING last_position - (SELECT count(*) FROM pending) AS base
), positioned AS (
  UPDATE events e SET position = head.base + n.ord, relayed_at = now()
    FROM numbered n, head WHERE e.id = n.id
  RETURNING e.id, e.type, e.subject, e.position, e.request_id
), ${fanOutCte("positioned")}
SELECT (SELECT count(*) FROM positioned)::int AS relayed, f.id AS delivery_id, f.subscription_id
  FROM (SELECT 1) one LEFT JOIN (fan_out f JOIN positioned p ON p.id = f.event_id) ON true`;

/**
 * One relay batch, in one statement: up to `batch` unpositioned events get their log positions from the
 * event_log_head row (whose lock orders every assignment, so positions grow in commit order) and one delivery
 * row per matching active subscription.
 */
export async function relayBatch(
  db: Database,
  batch: number,
): Promise<{ relayed: number; deliveries: { webhookDeliveryId: string; subscriptionId: string }[] }> {
  const rows = await onPool(db).query<{ relayed: number; delivery_id: string | null; subscription_id: string | null }>(RELAY, [batch]);
  return {
    relayed: rows[0]?.relayed ?? 0,
    deliveries: rows.flatMap((r) => (r.delivery_id && r.subscription_id ? [{ webhookDeliveryId: r.delivery_id, subscriptionId: r.subscription_id }] : [])),
  };
}
