// The outbox relay, for events written outside the Flovi inbox (pollers, reconciliation, operator events):
// it gives committed events their position in the public log and one delivery row per matching active
// subscription, then one BullMQ job per delivery. (The inbox positions and fans out its own events in its
// write statement.)
//
// One statement per batch: positions come from the event_log_head row, whose lock orders every position
// assignment, so positions grow in commit order and GET /events never skips an event that commits late.
// Dispatch: the writer calls nudge() after its commit (fast path), and a job scheduler runs the relay every
// few seconds (the safety net for a process that died before its nudge).
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { fanOutCte } from "../db/fan-out.js";
import { coalesce } from "../lib/coalesce.js";
import type { Queues } from "../queues/queues.js";

const BATCH = 500;

const RELAY = `
WITH pending AS (
  SELECT id, created_at FROM events WHERE position IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
), numbered AS (
  SELECT id, row_number() OVER (ORDER BY created_at, id) AS ord FROM pending
), head AS (
  UPDATE event_log_head SET last_position = last_position + (SELECT count(*) FROM pending)
   WHERE id = 1 AND EXISTS (SELECT 1 FROM pending)
  RETURNING last_position - (SELECT count(*) FROM pending) AS base
), positioned AS (
  UPDATE events e SET position = head.base + n.ord, relayed_at = now()
    FROM numbered n, head WHERE e.id = n.id
  RETURNING e.id, e.type, e.request_id
), ${fanOutCte("positioned")}
SELECT (SELECT count(*) FROM positioned)::int AS relayed, f.id AS delivery_id, p.request_id
  FROM (SELECT 1) one LEFT JOIN (fan_out f JOIN positioned p ON p.id = f.event_id) ON true`;

export interface Relay {
  /** Relays everything pending; resolves with how many events it relayed. */
  run(): Promise<number>;
  /** Run soon; concurrent nudges coalesce into at most one extra run. */
  nudge(): void;
  idle(): Promise<void>;
}

export function createRelay(deps: { db: Database; queues: Queues; log: Logger; deliveryAttempts: number }): Relay {
  async function relayAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { rows } = await deps.db.pool.query<{ relayed: number; delivery_id: string | null; request_id: string | null }>(RELAY, [BATCH]);
      const relayed = rows[0]?.relayed ?? 0;
      total += relayed;
      const deliveries = rows.flatMap((r) => (r.delivery_id ? [{ deliveryId: r.delivery_id, requestId: r.request_id ?? undefined }] : []));
      // If this fails, the deliveries stay pending and the stranded-delivery sweep queues them.
      if (deliveries.length > 0) await deps.queues.enqueueMany("deliverWebhook", deliveries, { attempts: deps.deliveryAttempts });
      if (relayed < BATCH) return total;
    }
  }

  const runner = coalesce(relayAll, (a, b) => a + b);
  return {
    run: runner.run,
    nudge() {
      runner.run().catch((error: unknown) => deps.log.warn({ err: error }, "outbox relay failed; the scheduled relay will retry"));
    },
    idle: runner.idle,
  };
}

/** Pending deliveries whose attempt is overdue by `olderThanMs`: their job (or in-process attempt) was lost. */
export async function findStrandedDeliveries(db: Database, olderThanMs: number, limit: number): Promise<{ deliveryId: string; attempts: number }[]> {
  const rows = await db.prisma.webhookDelivery.findMany({
    where: {
      status: "pending",
      OR: [
        { nextAttemptAt: null, createdAt: { lt: new Date(Date.now() - olderThanMs) } },
        { nextAttemptAt: { lt: new Date(Date.now() - olderThanMs) } },
      ],
    },
    select: { id: true, attempts: true },
    orderBy: { createdAt: "asc" },
    take: limit,
  });
  return rows.map((r) => ({ deliveryId: r.id, attempts: r.attempts }));
}
