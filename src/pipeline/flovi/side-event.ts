// Events that leave a reservation's state as it is (`reservation.updated`, `reservation.final_costs_overdue`):
// the next sequence number, the reservation's current status as status and previous status, its fetched
// details underneath, written with the same plan writer as state changes (fan-out included).
import { randomUUID } from "node:crypto";
import type { NewDelivery } from "../../db/fan-out.js";
import { writeReportPlan } from "../../db/reservation-writes.js";
import type { Sql } from "../../db/sql.js";
import { createEvent } from "../../domain/event-catalog.js";
import type { CloudEvent } from "../../domain/events.js";
import { isReservationState } from "../../domain/reservation.js";
import type { ReservationSnapshot } from "./plan.js";

export async function writeSameStatusEvent(
  sql: Sql,
  current: ReservationSnapshot,
  event: { type: "updated" | "final_costs_overdue"; details: Record<string, unknown>; dedupeKey: string },
): Promise<{ events: CloudEvent[]; deliveries: NewDelivery[]; deferred: number }> {
  if (!isReservationState(current.state)) throw new Error(`reservation ${current.id} has no known state (${current.state})`);
  const sequence = current.sequence + 1;
  const envelope = createEvent(
    {
      entity: "reservation",
      entityId: current.id,
      externalId: current.externalId,
      type: event.type,
      status: current.state,
      previousStatus: current.state,
      providerStatus: current.state,
      sequence,
      time: new Date(),
      timeSource: "hub",
      details: { ...current.details, ...event.details },
      dedupeKey: event.dedupeKey,
    },
    randomUUID(),
  );
  const { deliveries, deferred } = await writeReportPlan(sql, {
    reservations: [
      {
        id: current.id,
        externalId: current.externalId,
        state: current.state,
        cancellationReason: current.cancellationReason,
        finalCosts: null,
        vehicles: null,
        lastPayload: null,
        sequence,
        lastChangedAt: current.lastChangedAt,
      },
    ],
    transitions: [],
    inbound: [],
    events: [{ envelope, dedupeKey: event.dedupeKey, requestId: null }],
  });
  return { events: [envelope], deliveries, deferred };
}
