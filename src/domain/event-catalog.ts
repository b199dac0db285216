// The event catalog: one zod schema per event type (envelope, data and data.details), with what it means,
// when it is emitted, what its `time` is, and an example. Every event the hub writes is built through
// `createEvent`, which checks it against its type's schema; GET /schemas/events.json serves the catalog as
// JSON Schema and docs/events.md is generated from it (npm run docs:events), so neither can drift from the code.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { buildEnvelope, type CloudEvent, type NewEvent } from "./events.js";
import { catalogEntries } from "./event-catalog-entries.js";
import { type CatalogEntry, SOURCES } from "./event-schemas.js";

export type { CatalogEntry };

export const EVENT_CATALOG: readonly CatalogEntry[] = catalogEntries;

const byType = new Map(catalogEntries.filter((e) => !e.type.includes("<")).map((e) => [e.type, e]));
const genericRental = catalogEntries.find((e) => e.type === "rental.<status>")!;

/** The catalog entry an event type belongs to (a rental status nobody listed falls under `rental.<status>`). */
export function catalogEntryOf(type: string): CatalogEntry | null {
  return byType.get(type) ?? (type.startsWith("rental.") ? genericRental : null);
}

/** Why an envelope does not match its type's schema, or null when it does. */
export function eventSchemaProblem(event: unknown): string | null {
  const type = (event as { type?: unknown } | null)?.type;
  const entry = typeof type === "string" ? catalogEntryOf(type) : null;
  if (!entry) return `no catalog entry for event type ${String(type)}`;
  const result = entry.schema.safeParse(event);
  return result.success ? null : `${String(type)}: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`;
}

let onViolation: (problem: string, event: CloudEvent) => void = (problem) => {
  throw new Error(`event does not match the catalog: ${problem}`);
};

/**
 * What happens to an event that does not match its schema. Tests keep the default (throw: the test fails);
 * a running service logs and counts it and still emits the event, because refusing it would hold the
 * reservation or the shipment back behind a bug in the hub.
 */
export function onEventSchemaViolation(handler: (problem: string, event: CloudEvent) => void): void {
  onViolation = handler;
}

/** The one way events are made: the envelope, checked against its type's schema. */
export function createEvent(event: NewEvent, id: string = randomUUID()): CloudEvent {
  const envelope = buildEnvelope(event, id);
  const problem = eventSchemaProblem(envelope);
  if (problem) onViolation(problem, envelope);
  return envelope;
}

/** An example envelope of the entry, as a subscriber would receive it. */
export function exampleEvent(entry: CatalogEntry): CloudEvent {
  const entityId = {
    reservation: "4711",
    shipment: "eb27ff8e-b353-4a3f-8e7e-69576e64ee1a",
    rental: "BR-1234567",
    subscription: "3f1c0a52-6a7e-4f55-9d0e-1b2c3d4e5f60",
    hub: "3f1c0a52-6a7e-4f55-9d0e-1b2c3d4e5f60",
  }[entry.entity];
  const status = entry.exampleStatus;
  const type = entry.type.includes("<") ? `rental.${status}` : entry.type;
  const base = buildEnvelope(
    {
      entity: entry.entity,
      entityId,
      externalId:
        entry.entity === "reservation" ? "PO-2026-0042" : entry.entity === "rental" ? "GFC042389XY" : entry.entity === "shipment" ? "PO-2026-0042" : null,
      type: type.slice(entry.entity.length + 1),
      status,
      previousStatus: entry.examplePrevious,
      providerStatus: entry.entity === "rental" ? status.toUpperCase() : entry.type === "shipment.tracking_event" ? "delivery_exception" : status,
      sequence: entry.examplePrevious === null ? 1 : 3,
      time: new Date("2026-06-20T15:40:00.000Z"),
      timeSource: entry.exampleTimeSource,
      details: entry.exampleDetails,
      dedupeKey: "example",
    },
    "0b6f7a40-8f8a-4d2e-9a61-7c1e2d3f4a5b",
  );
  return base;
}

/** A JSON Schema as served: additional properties allowed, so that a field added later breaks no subscriber. */
function openSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k, v]) => !(k === "additionalProperties" && v === false))
      .map(([k, v]) => [k, openSchema(v)]),
  );
}

/** The catalog as GET /schemas/events.json serves it. */
export function eventCatalogDocument() {
  return {
    $id: "logistics-event-hub/events.json",
    title: "Logistics event hub: event catalog",
    description:
      "Every event type the hub emits: when, what `time` means, its JSON Schema (envelope, data and data.details; draft 2020-12) and an example. New " +
      "optional fields may be added: accept properties you do not know.",
    envelope: "/schemas/event.json",
    types: catalogEntries.map((entry) => ({
      type: entry.type,
      entity: entry.entity,
      source: SOURCES[entry.entity],
      description: entry.when,
      time: entry.time,
      schema: openSchema(z.toJSONSchema(entry.schema, { unrepresentable: "any" })),
      example: exampleEvent(entry),
    })),
  };
}
