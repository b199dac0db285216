// Reading the normalized event log: the public page (GET /events) and one entity's history.
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

/** `type = $n`, or `type LIKE 'entity.%'` for `entity.*` (index: (type, position)); null for `*`. */
function typeCondition(pattern: string, params: unknown[]): string | null {
  if (pattern === "*") return null;
  params.push(pattern.endsWith(".*") ? `${pattern.slice(0, -1).replace(/[\\%_]/g, "\\$&")}%` : pattern);
  return pattern.endsWith(".*") ? `type LIKE $${params.length}` : `type = $${params.length}`;
}

/**
 * Positioned events in log order (index: position, or (subject, position) / (type, position) when filtered),
 * each envelope as the JSON text Postgres stores: a page of a thousand goes to the client without being parsed
 * and serialized again on the api's event loop (docs/operations.md, "Postgres connections").
 */
export async function eventPage(db: Database, filter: EventFilter, limit: number): Promise<{ position: bigint; envelope: string }[]> {
  const params: unknown[] = [];
  const where = ["position IS NOT NULL"];
  if (filter.after !== undefined) {
    params.push(filter.after.toString());
    where.push(`position > $${params.length}::bigint`);
  }
  if (filter.subject) {
    params.push(filter.subject);
    where.push(`subject = $${params.length}`);
  }
  const type = filter.type ? typeCondition(filter.type, params) : null;
  if (type) where.push(type);
  if (filter.allowed) {
    const any = filter.allowed.map((pattern) => typeCondition(pattern, params));
    if (!any.includes(null)) where.push(`(${any.join(" OR ") || "false"})`);
  }
  params.push(limit);
  // (`events.position`: the bare name would be the text column of the select list, sorted as text, no index.)
  const rows = await onPool(db).query<{ position: string; envelope: string }>(
    `SELECT position::text AS position, envelope::text AS envelope FROM events WHERE ${where.join(" AND ")} ORDER BY events.position LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({ position: BigInt(r.position), envelope: r.envelope }));
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
