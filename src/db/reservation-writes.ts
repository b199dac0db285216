// Applies a reservation plan (providers/flovi/plan.ts) in ONE statement: reservations, transitions, the
// deliveries' outcomes, events with their log positions, and the fan-out to subscriptions. The caller
// holds the reservations' advisory locks in the same transaction.
import type { ReportPlan, ReservationSnapshot } from "../domain/reservation-plan.js";
import { fanOutFrom, toNewDelivery, type FannedOutRow, type NewDelivery } from "./fan-out.js";
import type { Sql } from "./sql.js";
import { carrierOf, rememberEventTrace } from "../observability/trace.js";

const WRITE_PLAN = `
WITH reservation_rows AS (
  INSERT INTO reservations (id, external_id, state, cancellation_reason, final_costs, vehicles, last_payload, sequence, last_changed_at, updated_at)
  SELECT r.id, r.external_id, r.state, r.cancellation_reason, r.final_costs, r.vehicles, r.last_payload, r.sequence, r.last_changed_at, now()
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[], $8::int[], $9::timestamptz[])
         AS r(id, external_id, state, cancellation_reason, final_costs, vehicles, last_payload, sequence, last_changed_at)
  ON CONFLICT (id) DO UPDATE SET
    external_id = EXCLUDED.external_id,
    state = EXCLUDED.state,
    cancellation_reason = EXCLUDED.cancellation_reason,
    final_costs = COALESCE(EXCLUDED.final_costs, reservations.final_costs),
    vehicles = COALESCE(EXCLUDED.vehicles, reservations.vehicles),
    last_payload = COALESCE(EXCLUDED.last_payload, reservations.last_payload),
    sequence = EXCLUDED.sequence,
    last_changed_at = EXCLUDED.last_changed_at,
    updated_at = now()
), transition_rows AS (
  INSERT INTO reservation_transitions (reservation_id, from_state, to_state, outcome, source, occurred_at, received_at, delivery_id, event_id)
  SELECT * FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::uuid[], $18::uuid[])
), inbound_rows AS (
  UPDATE inbound_deliveries d
     SET status = u.status, status_reason = u.reason, processed_at = now(), process_count = d.process_count + 1
    FROM unnest($19::uuid[], $20::text[], $21::text[]) AS u(id, status, reason)
   WHERE d.id = u.id
), head AS (
  UPDATE event_log_head SET last_position = last_position + cardinality($22::uuid[])
   WHERE id = 1 AND cardinality($22::uuid[]) > 0
  RETURNING last_position - cardinality($22::uuid[]) AS base
), event_rows AS (
  INSERT INTO events (id, position, relayed_at, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, request_id, trace_context)
  SELECT e.id, head.base + e.ord, now(), e.source, e.type, e.subject, 'reservation', e.entity_id, e.sequence, e.time, e.dedupe_key, e.envelope, e.request_id, e.trace_context
    FROM unnest($22::uuid[], $23::text[], $24::text[], $25::text[], $26::text[], $27::int[], $28::timestamptz[], $29::text[], $30::jsonb[], $31::text[], $32::jsonb[])
         WITH ORDINALITY AS e(id, source, type, subject, entity_id, sequence, time, dedupe_key, envelope, request_id, trace_context, ord)
         CROSS JOIN head
  RETURNING id, type, subject, position
),
${fanOutFrom("event_rows")}`;

const json = (value: unknown) => (value == null ? null : JSON.stringify(value));
const iso = (d: Date) => d.toISOString();

/** Writes the plan; returns the deliveries its events fanned out to. */
export async function writeReportPlan(sql: Sql, plan: ReportPlan): Promise<NewDelivery[]> {
  const { reservations: r, transitions: t, inbound: u, events: e } = plan;
  const rows = await sql.query<FannedOutRow>(WRITE_PLAN, [
    r.map((x) => x.id),
    r.map((x) => x.externalId),
    r.map((x) => x.state),
    r.map((x) => x.cancellationReason),
    r.map((x) => json(x.finalCosts)),
    r.map((x) => json(x.vehicles)),
    r.map((x) => json(x.lastPayload)),
    r.map((x) => x.sequence),
    r.map((x) => iso(x.lastChangedAt)),
    t.map((x) => x.reservationId),
    t.map((x) => x.fromState),
    t.map((x) => x.toState),
    t.map((x) => x.outcome),
    t.map((x) => x.source),
    t.map((x) => iso(x.occurredAt)),
    t.map((x) => iso(x.receivedAt)),
    t.map((x) => x.inboundDeliveryId),
    t.map((x) => x.eventId),
    u.map((x) => x.id),
    u.map((x) => x.status),
    u.map((x) => x.reason),
    e.map((x) => x.envelope.id),
    e.map((x) => x.envelope.source),
    e.map((x) => x.envelope.type),
    e.map((x) => x.envelope.subject),
    e.map((x) => x.envelope.data.entityId),
    e.map((x) => x.envelope.data.sequence),
    e.map((x) => x.envelope.time),
    e.map((x) => x.dedupeKey),
    e.map((x) => JSON.stringify(x.envelope)),
    e.map((x) => x.requestId),
    // A webhook's event continues the drain's span for its delivery; others (look-ups, backfill) the active span.
    e.map((x) => {
      const carrier = x.traceContext ?? carrierOf();
      rememberEventTrace(x.envelope.id, carrier);
      return json(carrier);
    }),
  ]);
  return rows.map(toNewDelivery);
}

const RESERVATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('reservation:' || k, 0)) FROM unnest($1::text[]) AS k ORDER BY k";

/** Blocks until this transaction holds every named reservation's lock (taken in a fixed order: no deadlock). */
export async function lockReservations(sql: Sql, ids: string[]): Promise<void> {
  await sql.query(RESERVATION_LOCK, [ids]);
}

export async function loadReservationSnapshots(sql: Sql, ids: string[]): Promise<ReservationSnapshot[]> {
  const rows = await sql.query<{ id: string; state: string; external_id: string | null; sequence: number; cancellation_reason: string | null; last_changed_at: Date; details: Record<string, unknown> | null }>(
    "SELECT id, state, external_id, sequence, cancellation_reason, last_changed_at, details FROM reservations WHERE id = ANY($1::text[])",
    [ids],
  );
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    externalId: row.external_id,
    sequence: row.sequence,
    cancellationReason: row.cancellation_reason,
    lastChangedAt: row.last_changed_at,
    details: row.details,
  }));
}
