// Reading the normalized event log: the public page (GET /events) and one entity's history.
import type { Prisma } from "../generated/prisma/client.js";
import type { CloudEvent } from "../domain/events.js";
import type { Database } from "./client.js";
import { onPool } from "./sql.js";
import { prismaOf } from "./clients.js";

export interface EventFilter {
  /** An exact type, `entity.*`, or `*`. */
  type?: string;
  subject?: string;
  /** Only events after this log position. */
  after?: bigint;
  /** Only events whose type one of these patterns matches (a consumer's allowed types). */
  allowed?: string[];
}

const typeWhere = (pattern: string): Prisma.EventWhereInput =>
  pattern === "*" ? {} : pattern.endsWith(".*") ? { type: { startsWith: pattern.slice(0, -1) } } : { type: pattern };

/** Positioned events in log order (index: position, or (subject, position) / (type, position) when filtered). */
export async function eventPage(db: Database, filter: EventFilter, limit: number): Promise<{ position: bigint; envelope: CloudEvent }[]> {
  const where: Prisma.EventWhereInput = {
    position: filter.after !== undefined ? { gt: filter.after } : { not: null },
    ...(filter.subject ? { subject: filter.subject } : {}),
    ...(filter.type ? typeWhere(filter.type) : {}),
    ...(filter.allowed ? { AND: [{ OR: filter.allowed.map(typeWhere) }] } : {}),
  };
  const rows = await prismaOf(db).event.findMany({ where, orderBy: { position: "asc" }, take: limit, select: { position: true, envelope: true } });
  return rows.map((r) => ({ position: r.position!, envelope: r.envelope as unknown as CloudEvent }));
}

/** One entity's events in its own order (index: the unique (entity, entity_id, sequence)). */
export async function entityEvents(db: Database, entity: string, entityId: string, opts: { statusOnly?: boolean } = {}): Promise<CloudEvent[]> {
  const rows = await prismaOf(db).event.findMany({
    where: { entity, entityId, ...(opts.statusOnly ? { NOT: { type: "shipment.tracking_event" } } : {}) },
    orderBy: { sequence: "asc" },
    select: { envelope: true },
  });
  return rows.map((r) => r.envelope as unknown as CloudEvent);
}

/** The W3C trace context stored with an event (tracing on when it was written), for its delivery attempts. */
export async function eventTraceContext(db: Database, eventId: string): Promise<Record<string, string> | null> {
  const rows = await onPool(db).query<{ trace_context: Record<string, string> | null }>("SELECT trace_context FROM events WHERE id = $1::uuid", [eventId]);
  return rows[0]?.trace_context ?? null;
}

/** One event of the log by id (null when unknown or pruned). */
export async function eventById(db: Database, id: string): Promise<CloudEvent | null> {
  const rows = await onPool(db).query<{ envelope: CloudEvent }>("SELECT envelope FROM events WHERE id = $1::uuid", [id]);
  return rows[0]?.envelope ?? null;
}
