// Reading a reservation for the API. Writes go through db/reservation-writes.ts.
import type { Tx } from "./outbox.js";

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
