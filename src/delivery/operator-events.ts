// Normalized events about the service itself (entity "subscription"), delivered like any other event to
// subscriptions that ask for `subscription.*` or `*`.
import type { Tx } from "../db/outbox.js";
import { writeEvents } from "../db/outbox.js";

export async function recordOperatorEvent(
  tx: Tx,
  input: { subscriptionId: string; status: "disabled"; reason: string; time: Date },
) {
  const last = await tx.event.findFirst({
    where: { entity: "subscription", entityId: input.subscriptionId },
    orderBy: { sequence: "desc" },
    select: { sequence: true },
  });
  return writeEvents(tx, [
    {
      entity: "subscription",
      entityId: input.subscriptionId,
      type: input.status,
      status: input.status,
      previousStatus: "active",
      providerStatus: input.status,
      sequence: (last?.sequence ?? 0) + 1,
      time: input.time,
      details: { reason: input.reason },
      dedupeKey: `subscription:${input.subscriptionId}:${input.status}:${input.time.toISOString()}`,
    },
  ]);
}
