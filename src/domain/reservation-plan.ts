// What applying reservation reports writes: the shapes the pure fold (pipeline/flovi/plan.ts) produces and
// db/reservation-writes.ts stores. Types only.
import type { CloudEvent } from "./events.js";
import type { ReservationState, TransitionOutcome } from "./reservation.js";

export interface InboxRow {
  id: string;
  rawBody: Buffer;
  receivedAt: Date;
  requestId: string | null;
  orderingKey: string;
  /** W3C trace context to continue (the ingress's, then the drain's span for this delivery); null: tracing off. */
  traceContext?: Record<string, string> | null;
}

/** The columns of a reservation the fold needs (jsonb columns are merged in SQL, never read back). */
export interface ReservationSnapshot {
  id: string;
  state: string;
  externalId: string | null;
  sequence: number;
  cancellationReason: string | null;
  lastChangedAt: Date;
  /** The Partner API's details (type, schedule, route, origin, destination, vehicle), once fetched: every event carries them. */
  details?: Record<string, unknown> | null;
}

export interface ReservationWrite {
  id: string;
  externalId: string | null;
  state: ReservationState;
  cancellationReason: string | null;
  /** null keeps the stored value. */
  finalCosts: Record<string, unknown> | null;
  vehicles: unknown[] | null;
  lastPayload: unknown;
  sequence: number;
  lastChangedAt: Date;
}

interface TransitionWrite {
  reservationId: string;
  fromState: ReservationState | null;
  toState: ReservationState;
  outcome: TransitionOutcome;
  source: "webhook" | "reconciliation";
  occurredAt: Date;
  receivedAt: Date;
  inboundDeliveryId: string | null;
  eventId: string | null;
}

interface EventWrite {
  envelope: CloudEvent;
  dedupeKey: string;
  requestId: string | null;
  /** The span that wrote it, for its delivery attempts to continue (null: tracing off). */
  traceContext?: Record<string, string> | null;
}

export interface InboundOutcome {
  id: string;
  status: "processed" | "ignored" | "rejected";
  reason: string;
}

export interface ReportPlan {
  reservations: ReservationWrite[];
  transitions: TransitionWrite[];
  events: EventWrite[];
  inbound: InboundOutcome[];
}
