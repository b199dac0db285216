// Reservation persistence: the state machine's decision applied inside the caller's transaction.
import { decideTransition, isReservationState, type ReservationState, type TransitionOutcome } from "../domain/reservation.js";
import type { CloudEvent, NewEvent } from "../domain/events.js";
import type { StatusChange } from "../providers/flovi/payload.js";
import { writeEvents, type Tx } from "./outbox.js";
import { prismaSql, type Sql } from "./sql.js";

export interface ReservationReport {
  change: StatusChange;
  source: "webhook" | "reconciliation";
  receivedAt: Date;
  deliveryId: string | null;
  /** Unique per reported fact: the delivery id for webhooks, the look-up for reconciliation. */
  dedupeKey: string;
  lastPayload: unknown;
  requestId?: string | null;
}

export interface ReportResult {
  outcome: TransitionOutcome;
  previousState: ReservationState | null;
  state: ReservationState;
  events: CloudEvent[];
}

interface ReservationRow {
  state: string;
  external_id: string | null;
  sequence: number;
  last_changed_at: Date;
}

const UPSERT = `
INSERT INTO reservations (id, external_id, state, cancellation_reason, final_costs, vehicles, last_payload, sequence, last_changed_at, updated_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, now())
ON CONFLICT (id) DO UPDATE SET
  external_id = EXCLUDED.external_id,
  state = EXCLUDED.state,
  cancellation_reason = CASE WHEN $10 THEN EXCLUDED.cancellation_reason ELSE reservations.cancellation_reason END,
  final_costs = COALESCE(EXCLUDED.final_costs, reservations.final_costs),
  vehicles = COALESCE(EXCLUDED.vehicles, reservations.vehicles),
  last_payload = EXCLUDED.last_payload,
  sequence = EXCLUDED.sequence,
  last_changed_at = GREATEST(EXCLUDED.last_changed_at, reservations.last_changed_at),
  updated_at = now()`;

const INSERT_TRANSITION = `
INSERT INTO reservation_transitions (reservation_id, from_state, to_state, outcome, source, occurred_at, received_at, delivery_id, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

/** Applies one state report inside the caller's transaction (raw SQL: this is the worker's hot path). */
export async function applyReservationReport(sqlOrTx: Sql | Tx, report: ReservationReport): Promise<ReportResult> {
  const sql = "query" in sqlOrTx ? sqlOrTx : prismaSql(sqlOrTx);
  const { change } = report;
  // Serializes every report for one reservation, including its very first (there is no row to lock yet).
  await sql.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`reservation:${change.reservationId}`]);
  const [current] = await sql.query<ReservationRow>(
    "SELECT state, external_id, sequence, last_changed_at FROM reservations WHERE id = $1",
    [change.reservationId],
  );
  const currentState = current && isReservationState(current.state) ? current.state : null;
  const decision = decideTransition(currentState, change.state);
  const occurredAt = change.occurredAt ?? report.receivedAt;
  const externalId = change.externalId ?? current?.external_id ?? null;

  let events: CloudEvent[] = [];
  if (decision.emits) {
    const sequence = (current?.sequence ?? 0) + 1;
    const details: Record<string, unknown> = {};
    if (change.cancellationReason) details.cancellationReason = change.cancellationReason;
    if (change.costs) details.finalCosts = change.costs;
    if (change.vehicles) details.vehicles = change.vehicles;
    if (report.source === "reconciliation") details.source = "reconciliation";
    const event: NewEvent = {
      entity: "reservation",
      entityId: change.reservationId,
      externalId,
      type: change.state,
      status: change.state,
      previousStatus: currentState,
      // Costs after a cancellation keep the reservation cancelled.
      phase: decision.outcome === "costs_after_cancel" ? "cancelled" : undefined,
      providerStatus: change.state,
      sequence,
      time: occurredAt,
      details,
      dedupeKey: report.dedupeKey,
    };
    await sql.query(UPSERT, [
      change.reservationId,
      externalId,
      decision.nextState,
      change.cancellationReason,
      change.costs ? JSON.stringify(change.costs) : null,
      change.vehicles ? JSON.stringify(change.vehicles) : null,
      JSON.stringify(report.lastPayload ?? null),
      sequence,
      occurredAt,
      change.state === "cancelled",
    ]);
    events = await writeEvents(sql, [event], report.requestId);
  } else if (current && change.externalId && !current.external_id) {
    // A late report can still teach us the partner's reference.
    await sql.query("UPDATE reservations SET external_id = $2, updated_at = now() WHERE id = $1", [change.reservationId, change.externalId]);
  }

  await sql.query(INSERT_TRANSITION, [
    change.reservationId,
    currentState,
    change.state,
    decision.outcome,
    report.source,
    occurredAt,
    report.receivedAt,
    report.deliveryId,
    events[0]?.id ?? null,
  ]);
  return { outcome: decision.outcome, previousState: currentState, state: decision.nextState, events };
}

export async function getReservationView(db: { reservation: Tx["reservation"]; event: Tx["event"] }, id: string) {
  const reservation = await db.reservation.findUnique({
    where: { id },
    include: { transitions: { orderBy: { id: "asc" } } },
  });
  if (!reservation) return null;
  const events = await db.event.findMany({
    where: { entity: "reservation", entityId: id },
    orderBy: { sequence: "asc" },
    select: { envelope: true },
  });
  return {
    reservationId: reservation.id,
    externalId: reservation.externalId,
    state: reservation.state,
    cancellationReason: reservation.cancellationReason,
    finalCosts: reservation.finalCosts,
    vehicles: reservation.vehicles,
    sequence: reservation.sequence,
    lastChangedAt: reservation.lastChangedAt,
    lastReconciledAt: reservation.lastReconciledAt,
    createdAt: reservation.createdAt,
    updatedAt: reservation.updatedAt,
    transitions: reservation.transitions.map((t) => ({
      from: t.fromState,
      to: t.toState,
      outcome: t.outcome,
      source: t.source,
      occurredAt: t.occurredAt,
      receivedAt: t.receivedAt,
      deliveryId: t.deliveryId,
      eventId: t.eventId,
    })),
    events: events.map((e) => e.envelope),
  };
}
