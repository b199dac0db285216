// The normalized event model (INTERFACE.md "Normalized events"): CloudEvents 1.0 structured JSON.
import { randomUUID } from "node:crypto";

export type Entity = "reservation" | "shipment" | "rental" | "subscription";
export type EventSource = "flovi" | "myflyingbox" | "greenflow" | "logistics-event-hub";
export type Phase = "booked" | "assigned" | "in_transit" | "completed" | "exception" | "cancelled";

const SOURCE_OF: Record<Entity, EventSource> = {
  reservation: "flovi",
  shipment: "myflyingbox",
  rental: "greenflow",
  subscription: "logistics-event-hub",
};

const RESERVATION_PHASE: Record<string, Phase> = {
  created: "booked",
  taken: "assigned",
  driving: "in_transit",
  sealed: "completed",
  final_costs: "completed",
  cancelled: "cancelled",
};

const SHIPMENT_PHASE: Record<string, Phase> = {
  created: "booked",
  picked_up: "in_transit",
  in_transit: "in_transit",
  out_for_delivery: "in_transit",
  exception: "exception",
  delivered: "completed",
};

/**
 * GreenFlow documents RESERVED and cancellation; the other words are the usual rental lifecycle and are
 * folded where their meaning is unambiguous. Anything else stays "booked" (the booking exists, nothing
 * says it moved on) and keeps its own word in `providerStatus`.
 */
const RENTAL_PHASE: Record<string, Phase> = {
  reserved: "booked",
  pending: "booked",
  confirmed: "booked",
  on_request: "booked",
  picked_up: "in_transit",
  in_progress: "in_transit",
  open: "in_transit",
  returned: "completed",
  completed: "completed",
  closed: "completed",
  finished: "completed",
  cancelled: "cancelled",
  canceled: "cancelled",
  no_show: "cancelled",
  expired: "cancelled",
  rejected: "cancelled",
  failed: "exception",
  error: "exception",
};

export function phaseOf(entity: Entity, status: string): Phase {
  if (entity === "subscription") return status === "disabled" ? "exception" : "booked";
  const table = entity === "reservation" ? RESERVATION_PHASE : entity === "shipment" ? SHIPMENT_PHASE : RENTAL_PHASE;
  return table[status] ?? (entity === "shipment" ? "in_transit" : "booked");
}

export interface EventData {
  entity: Entity;
  entityId: string;
  externalId: string | null;
  status: string;
  previousStatus: string | null;
  phase: Phase;
  providerStatus: string;
  sequence: number;
  details: Record<string, unknown>;
}

export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: EventSource;
  type: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: EventData;
}

export interface NewEvent {
  entity: Entity;
  entityId: string;
  externalId?: string | null;
  /** `<entity>.<type>`: the status, or `tracking_event` for MFB carrier events. */
  type: string;
  status: string;
  previousStatus: string | null;
  phase?: Phase;
  providerStatus: string;
  sequence: number;
  time: Date;
  details?: Record<string, unknown>;
  /** What makes this fact unique in provider terms: writing it twice is a no-op. */
  dedupeKey: string;
}

export function buildEnvelope(event: NewEvent, id: string = randomUUID()): CloudEvent {
  return {
    specversion: "1.0",
    id,
    source: SOURCE_OF[event.entity],
    type: `${event.entity}.${event.type}`,
    subject: `${event.entity}/${event.entityId}`,
    time: event.time.toISOString(),
    datacontenttype: "application/json",
    data: {
      entity: event.entity,
      entityId: event.entityId,
      externalId: event.externalId ?? null,
      status: event.status,
      previousStatus: event.previousStatus,
      phase: event.phase ?? phaseOf(event.entity, event.status),
      providerStatus: event.providerStatus,
      sequence: event.sequence,
      details: event.details ?? {},
    },
  };
}

/** `reservation.sealed` matches `reservation.sealed`, `reservation.*` and `*`. */
export function matchesEventType(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === "*" || p === type || (p.endsWith(".*") && type.startsWith(p.slice(0, -1))));
}
