// The normalized event model: CloudEvents 1.0 structured JSON. The zod schema below is the envelope's one
// definition: the types come from it, and GET /schemas/event.json serves it as JSON Schema (docs/events.md).
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { RESERVATION_STATES } from "./reservation.js";

/** `hub`: the hub's own test event (`hub.test`), sent to one endpoint on request, never written to the log. */
export type Entity = "reservation" | "shipment" | "rental" | "subscription" | "hub";
type EventSource = "flovi" | "myflyingbox" | "greenflow" | "logistics-event-hub";
export type Phase = "booked" | "assigned" | "in_transit" | "completed" | "exception" | "cancelled";

const SOURCE_OF: Record<Entity, EventSource> = {
  reservation: "flovi",
  shipment: "myflyingbox",
  rental: "greenflow",
  subscription: "logistics-event-hub",
  hub: "logistics-event-hub",
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
  if (entity === "hub") return "booked";
  const table = entity === "reservation" ? RESERVATION_PHASE : entity === "shipment" ? SHIPMENT_PHASE : RENTAL_PHASE;
  return table[status] ?? (entity === "shipment" ? "in_transit" : "booked");
}

const SHIPMENT_STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "exception", "delivered"] as const;

/** Every event type by entity; `null`: any lower-case word (GreenFlow's statuses are the provider's own, lower-cased). */
const EVENT_STATUSES: Record<Exclude<Entity, "hub">, readonly string[] | null> = {
  reservation: [...RESERVATION_STATES, "updated", "final_costs_overdue"],
  shipment: [...SHIPMENT_STATUSES, "tracking_event", "tracking_stopped"],
  rental: null,
  subscription: ["disabled"],
};

const PHASES = ["booked", "assigned", "in_transit", "completed", "exception", "cancelled"] as const;
const TIME_SOURCES = ["provider", "hub"] as const;
type TimeSource = (typeof TIME_SOURCES)[number];

const eventDataSchema = z.object({
  entity: z.enum(["reservation", "shipment", "rental", "subscription", "hub"]),
  entityId: z.string().describe("the provider's id (reservation id, MFB order uuid, GreenFlow booking code)"),
  externalId: z.string().nullable().describe("the partner's own reference, where known"),
  status: z.string().describe("normalized status"),
  previousStatus: z.string().nullable(),
  phase: z.enum(PHASES).describe("one cross-provider lifecycle: is it done?"),
  providerStatus: z.string().describe("the provider's own word"),
  sequence: z.number().int().positive().describe("increases by one per entity: order and de-duplicate by it"),
  timeSource: z
    .enum(TIME_SOURCES)
    .describe("what the envelope's `time` is: `provider`, the provider's own time of the change; `hub`, when the hub observed it"),
  details: z.record(z.string(), z.unknown()).describe("provider specifics"),
});

export const cloudEventSchema = z
  .object({
    specversion: z.literal("1.0"),
    id: z.string().describe("unique; stable across retries and replays (also the webhook-id header)"),
    source: z.enum(["flovi", "myflyingbox", "greenflow", "logistics-event-hub"]),
    type: z
      .string()
      .regex(/^[a-z]+\.[a-z_]+$/)
      .describe("<entity>.<status>"),
    subject: z
      .string()
      .regex(/^[a-z]+\/.+$/)
      .describe("<entity>/<entityId>"),
    time: z.iso
      .datetime({ offset: true })
      .describe("when it happened: the provider's time where it gives one, else when the hub observed it (data.timeSource says which)"),
    datacontenttype: z.literal("application/json"),
    data: eventDataSchema,
  })
  .describe("A normalized logistics event (CloudEvents 1.0, structured JSON)");

export type CloudEvent = z.infer<typeof cloudEventSchema> & { source: EventSource };

/** The envelope as JSON Schema (draft 2020-12), for subscribers to validate what they receive. */
export function cloudEventJsonSchema() {
  return { $id: "logistics-event-hub/event.json", ...z.toJSONSchema(cloudEventSchema) };
}

/** Whether a subscription pattern can ever match: `*`, `<entity>.*`, or a known `<entity>.<status>`. */
export function isKnownEventPattern(pattern: string): boolean {
  if (pattern === "*") return true;
  const [entity, status, ...rest] = pattern.split(".");
  if (rest.length > 0 || !entity || !status || !(entity in EVENT_STATUSES)) return false;
  const known = EVENT_STATUSES[entity as keyof typeof EVENT_STATUSES];
  return status === "*" || (known === null ? /^[a-z][a-z_]*$/.test(status) : known.includes(status));
}

/** Whether some event type matches both patterns (`*`, `<entity>.*` or an exact type each). */
export function patternsOverlap(a: string, b: string): boolean {
  if (a === "*" || b === "*" || a === b) return true;
  const [ea, sa] = a.split(".");
  const [eb, sb] = b.split(".");
  return ea === eb && (sa === "*" || sb === "*");
}

/** The valid patterns, in words, for a 400. */
export function validEventPatterns(): string {
  const entities = Object.entries(EVENT_STATUSES).map(([entity, statuses]) =>
    statuses === null
      ? `${entity}.* or ${entity}.<status> (the provider's status, lower-cased: reserved, cancelled, …)`
      : `${entity}.* or one of ${statuses.map((s) => `${entity}.${s}`).join(", ")}`,
  );
  return `*, ${entities.join("; ")}`;
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
  /** `provider`: `time` is the provider's own; `hub`: when the hub observed the change (a poll, a look-up, a receipt). */
  timeSource: TimeSource;
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
    data: eventData(event),
  };
}

/** An event's `data` (also what a snapshot rebuilds from stored state when the event itself was pruned). */
export function eventData(event: Omit<NewEvent, "type" | "time" | "dedupeKey">): CloudEvent["data"] {
  return {
    entity: event.entity,
    entityId: event.entityId,
    externalId: event.externalId ?? null,
    status: event.status,
    previousStatus: event.previousStatus,
    phase: event.phase ?? phaseOf(event.entity, event.status),
    providerStatus: event.providerStatus,
    sequence: event.sequence,
    timeSource: event.timeSource,
    details: event.details ?? {},
  };
}
