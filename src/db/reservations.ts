// Reservation persistence: the state machine's decision applied inside the caller's transaction.
import { decideTransition, isReservationState, type ReservationState, type TransitionOutcome } from "../domain/reservation.js";
import type { CloudEvent, NewEvent } from "../domain/events.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { StatusChange } from "../providers/flovi/payload.js";
import { writeEvents, type Tx } from "./outbox.js";

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

const json = (value: unknown) => value as Prisma.InputJsonValue;

export async function applyReservationReport(tx: Tx, report: ReservationReport): Promise<ReportResult> {
  const { change } = report;
  // Serializes every report for one reservation, including its very first (there is no row to lock yet).
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`reservation:${change.reservationId}`}, 0))`;
  const current = await tx.reservation.findUnique({ where: { id: change.reservationId } });
  const currentState = current && isReservationState(current.state) ? current.state : null;
  const decision = decideTransition(currentState, change.state);
  const occurredAt = change.occurredAt ?? report.receivedAt;
  const externalId = change.externalId ?? current?.externalId ?? null;

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
    const data = {
      externalId,
      state: decision.nextState,
      sequence,
      lastChangedAt: occurredAt > (current?.lastChangedAt ?? new Date(0)) ? occurredAt : (current?.lastChangedAt ?? occurredAt),
      lastPayload: json(report.lastPayload),
      ...(change.state === "cancelled" ? { cancellationReason: change.cancellationReason } : {}),
      ...(change.costs ? { finalCosts: json(change.costs) } : {}),
      ...(change.vehicles ? { vehicles: json(change.vehicles) } : {}),
    };
    if (current) {
      await tx.reservation.update({ where: { id: change.reservationId }, data });
    } else {
      await tx.reservation.create({ data: { id: change.reservationId, ...data } });
    }
    events = await writeEvents(tx, [event], report.requestId);
  } else if (current && change.externalId && !current.externalId) {
    // A late report can still teach us the partner's reference.
    await tx.reservation.update({ where: { id: change.reservationId }, data: { externalId: change.externalId } });
  }

  await tx.reservationTransition.create({
    data: {
      reservationId: change.reservationId,
      fromState: currentState,
      toState: change.state,
      outcome: decision.outcome,
      source: report.source,
      occurredAt,
      receivedAt: report.receivedAt,
      deliveryId: report.deliveryId,
      eventId: events[0]?.id ?? null,
    },
  });
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
