// Applies a reservation plan (pipeline/flovi/plan.ts) in ONE statement: reservations, transitions, the
// deliveries' outcomes, events with their log positions, and the fan-out to subscriptions. The caller
// holds the reservations' advisory locks in the same transaction.
import type { ReportPlan, ReservationSnapshot } from "../domain/reservation-plan.js";
import { type FanOutLease, type FannedOut, fanOutLeasingFrom, toFannedOut, type FannedOutRow } from "./fan-out.js";
import { LEASE_OFFER_COLUMNS } from "./delivery-lanes.js";
import { hotStatement, type Sql } from "./sql.js";
import { columnsFor, unnestLayout } from "./unnest.js";
import { carrierOf, rememberEventTrace } from "../observability/spans.js";

const json = (value: unknown) => (value == null ? null : JSON.stringify(value));
const iso = (d: Date) => d.toISOString();

type Plan = ReportPlan;

// Each kind of row the statement writes, column by column: name, type, value.
const COLUMNS = unnestLayout({
  reservations: columnsFor<Plan["reservations"][number]>({
    id: ["text", (x) => x.id],
    external_id: ["text", (x) => x.externalId],
    state: ["text", (x) => x.state],
    cancellation_reason: ["text", (x) => x.cancellationReason],
    final_costs: ["jsonb", (x) => json(x.finalCosts)],
    vehicles: ["jsonb", (x) => json(x.vehicles)],
    last_payload: ["jsonb", (x) => json(x.lastPayload)],
    sequence: ["int", (x) => x.sequence],
    last_changed_at: ["timestamptz", (x) => iso(x.lastChangedAt)],
  }),
  transitions: columnsFor<Plan["transitions"][number]>({
    reservation_id: ["text", (x) => x.reservationId],
    from_state: ["text", (x) => x.fromState],
    to_state: ["text", (x) => x.toState],
    outcome: ["text", (x) => x.outcome],
    source: ["text", (x) => x.source],
    occurred_at: ["timestamptz", (x) => iso(x.occurredAt)],
    received_at: ["timestamptz", (x) => iso(x.receivedAt)],
    inbound_delivery_id: ["uuid", (x) => x.inboundDeliveryId],
    event_id: ["uuid", (x) => x.eventId],
  }),
  inbound: columnsFor<Plan["inbound"][number]>({
    id: ["uuid", (x) => x.id],
    status: ["text", (x) => x.status],
    reason: ["text", (x) => x.reason],
  }),
  events: columnsFor<Plan["events"][number]>({
    id: ["uuid", (x) => x.envelope.id],
    source: ["text", (x) => x.envelope.source],
    type: ["text", (x) => x.envelope.type],
    subject: ["text", (x) => x.envelope.subject],
    entity_id: ["text", (x) => x.envelope.data.entityId],
    sequence: ["int", (x) => x.envelope.data.sequence],
    time: ["timestamptz", (x) => x.envelope.time],
    dedupe_key: ["text", (x) => x.dedupeKey],
    envelope: ["jsonb", (x) => JSON.stringify(x.envelope)],
    request_id: ["text", (x) => x.requestId],
    // A webhook's event continues the drain's span for its delivery; others (look-ups, backfill) the active span.
    trace_context: [
      "jsonb",
      (x) => {
        const carrier = x.traceContext ?? carrierOf();
        rememberEventTrace(x.envelope.id, carrier);
        return json(carrier);
      },
    ],
  }),
  // The leases the fan-out may take (none: empty arrays).
  offer: LEASE_OFFER_COLUMNS.lanes,
  terms: LEASE_OFFER_COLUMNS.terms,
});
const eventIds = COLUMNS.param("events", "id");

const WRITE_PLAN = hotStatement(
  "write_report_plan",
  `
WITH reservation_rows AS (
  INSERT INTO reservations (${COLUMNS.names("reservations")}, updated_at)
  SELECT r.*, now()
    FROM ${COLUMNS.unnest("reservations")} AS r(${COLUMNS.names("reservations")})
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
  INSERT INTO reservation_transitions (${COLUMNS.names("transitions")})
  SELECT * FROM ${COLUMNS.unnest("transitions")}
), inbound_rows AS (
  UPDATE inbound_deliveries d
     SET status = u.status, status_reason = u.reason, processed_at = now(), process_count = d.process_count + 1
    FROM ${COLUMNS.unnest("inbound")} AS u(${COLUMNS.names("inbound")})
   WHERE d.id = u.id
), head AS (
  UPDATE event_log_head SET last_position = last_position + cardinality(${eventIds})
   WHERE id = 1 AND cardinality(${eventIds}) > 0
  RETURNING last_position - cardinality(${eventIds}) AS base
), event_rows AS (
  -- created_at is this statement's time, not the transaction's start: a pass may begin before the rows it
  -- loads were stored, and a replay window (db/replays.ts) must not miss what arrived after its \`since\`.
  INSERT INTO events (id, position, relayed_at, created_at, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, request_id, trace_context)
  SELECT e.id, head.base + e.ord, now(), statement_timestamp(), e.source, e.type, e.subject, 'reservation', e.entity_id, e.sequence, e.time, e.dedupe_key, e.envelope,
      e.request_id, e.trace_context
    FROM ${COLUMNS.unnest("events")} WITH ORDINALITY AS e(${COLUMNS.names("events")}, ord)
         CROSS JOIN head
  RETURNING id, type, subject, position, envelope, envelope::text AS body
),
${fanOutLeasingFrom("event_rows", {
  offer: `${COLUMNS.unnest("offer")} AS o(${COLUMNS.names("offer")})`,
  terms: `${COLUMNS.unnest("terms")} AS x(${COLUMNS.names("terms")})`,
})}`,
);

/**
 * Writes the plan; returns the deliveries its events fanned out to, and how many events left deliveries to the
 * backlog (the caller nudges the relay after its commit). With `lease`, the fan-out leases the first attempts it
 * was offered (db/fan-out.ts); those deliveries come back `leased`, to start after the commit.
 */
export async function writeReportPlan(sql: Sql, plan: ReportPlan, lease?: FanOutLease): Promise<FannedOut> {
  const offer = lease?.lanes ?? [];
  const terms = lease && offer.length > 0 ? [lease] : [];
  const rows = await sql.hot<FannedOutRow>(WRITE_PLAN, COLUMNS.values({ ...plan, offer, terms }));
  return toFannedOut(rows, lease?.leaseToken);
}

const RESERVATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('reservation:' || k, 0)) FROM unnest($1::text[]) AS k ORDER BY k";

/** Blocks until this transaction holds every named reservation's lock (taken in a fixed order: no deadlock). */
export async function lockReservations(sql: Sql, ids: string[]): Promise<void> {
  await sql.query(RESERVATION_LOCK, [ids]);
}

export async function loadReservationSnapshots(sql: Sql, ids: string[]): Promise<ReservationSnapshot[]> {
  const rows = await sql.query<{
    id: string;
    state: string;
    external_id: string | null;
    sequence: number;
    cancellation_reason: string | null;
    last_changed_at: Date;
    details: Record<string, unknown> | null;
  }>("SELECT id, state, external_id, sequence, cancellation_reason, last_changed_at, details FROM reservations WHERE id = ANY($1::text[])", [ids]);
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
