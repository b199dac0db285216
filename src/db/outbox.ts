// Writing normalized events into the outbox, always inside the caller's transaction.
import { randomUUID } from "node:crypto";
import { buildEnvelope, type CloudEvent, type NewEvent } from "../domain/events.js";
import type { Prisma } from "../generated/prisma/client.js";
import { prismaSql, type Sql } from "./sql.js";

export type Tx = Prisma.TransactionClient;

const INSERT = `
INSERT INTO events (id, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, request_id)
SELECT t.id::uuid, t.source, t.type, t.subject, t.entity, t.entity_id, t.sequence::int, t.time::timestamptz, t.dedupe_key, t.envelope::jsonb, t.request_id
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
       AS t(id, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, request_id)`;

/**
 * Inserts the events in the caller's transaction (one statement). `dedupe_key` and
 * (entity, entity_id, sequence) are unique, so writing the same fact twice fails the transaction instead
 * of emitting it twice. Accepts raw SQL (hot paths) or a Prisma transaction.
 */
export async function writeEvents(sqlOrTx: Sql | Tx, events: NewEvent[], requestId?: string | null): Promise<CloudEvent[]> {
  const envelopes = events.map((e) => buildEnvelope(e, randomUUID()));
  if (envelopes.length === 0) return envelopes;
  const sql = "query" in sqlOrTx ? sqlOrTx : prismaSql(sqlOrTx);
  const column = <T,>(pick: (e: CloudEvent, i: number) => T) => envelopes.map(pick);
  await sql.query(INSERT, [
    column((e) => e.id),
    column((e) => e.source),
    column((e) => e.type),
    column((e) => e.subject),
    column((e) => e.data.entity),
    column((e) => e.data.entityId),
    column((e) => String(e.data.sequence)),
    column((e) => e.time),
    column((_, i) => events[i]!.dedupeKey),
    column((e) => JSON.stringify(e)),
    column(() => requestId ?? null),
  ]);
  return envelopes;
}
