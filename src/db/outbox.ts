// Writing normalized events into the outbox, always inside the caller's transaction.
import { randomUUID } from "node:crypto";
import { buildEnvelope, type CloudEvent, type NewEvent } from "../domain/events.js";
import type { Prisma } from "../generated/prisma/client.js";

export type Tx = Prisma.TransactionClient;

/**
 * Inserts the events in the caller's transaction. `dedupe_key` and (entity, entity_id, sequence) are
 * unique, so writing the same fact twice fails the transaction instead of emitting it twice.
 */
export async function writeEvents(tx: Tx, events: NewEvent[], requestId?: string | null): Promise<CloudEvent[]> {
  const envelopes = events.map((e) => buildEnvelope(e, randomUUID()));
  if (envelopes.length === 0) return envelopes;
  await tx.event.createMany({
    data: envelopes.map((envelope, i) => ({
      id: envelope.id,
      source: envelope.source,
      type: envelope.type,
      subject: envelope.subject,
      entity: envelope.data.entity,
      entityId: envelope.data.entityId,
      sequence: envelope.data.sequence,
      time: new Date(envelope.time),
      dedupeKey: events[i]!.dedupeKey,
      envelope: envelope as unknown as Prisma.InputJsonValue,
      requestId: requestId ?? null,
    })),
  });
  return envelopes;
}
