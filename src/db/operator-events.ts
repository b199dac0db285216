// Normalized events about the service itself (entity "subscription"), delivered like any other event to
// subscriptions that ask for `subscription.*` or `*`.
import { writeEvents } from "./outbox.js";
import type { Sql } from "./sql.js";

export async function recordOperatorEvent(sql: Sql, input: { subscriptionId: string; status: "disabled"; reason: string; time: Date }) {
  const [last] = await sql.query<{ sequence: number }>(
    "SELECT COALESCE(MAX(sequence), 0) AS sequence FROM events WHERE entity = 'subscription' AND entity_id = $1",
    [input.subscriptionId],
  );
  return writeEvents(sql, [
    {
      entity: "subscription",
      entityId: input.subscriptionId,
      type: input.status,
      status: input.status,
      previousStatus: "active",
      providerStatus: input.status,
      sequence: (last?.sequence ?? 0) + 1,
      time: input.time,
      timeSource: "hub",
      details: { reason: input.reason },
      dedupeKey: `subscription:${input.subscriptionId}:${input.status}:${input.time.toISOString()}`,
    },
  ]);
}
