// The outbox relay. Committed events get their position in the public log and one delivery row per
// matching active subscription, then one BullMQ job per delivery.
//
// Dispatch: the worker that commits an event calls nudge() right after the commit (the fast path: an
// event usually leaves within milliseconds), and a job scheduler runs the same relay every few seconds
// (the safety net: events committed by a process that died before its nudge still go out). Positions are
// assigned under one advisory lock, so they grow in commit order and GET /events never skips an event
// that commits late.
import type { Logger } from "pino";
import { randomUUID } from "node:crypto";
import type { Database } from "../db/client.js";
import { matchesEventType } from "../domain/events.js";
import type { Queues } from "../queues/queues.js";

const RELAY_LOCK = 0x72656c61; // "rela"
const BATCH = 500;

export interface Relay {
  /** Relays everything pending; resolves with how many events it relayed. */
  run(): Promise<number>;
  /** Run soon; concurrent nudges coalesce into at most one extra run. */
  nudge(): void;
  idle(): Promise<void>;
}

export function createRelay(deps: { db: Database; queues: Queues; log: Logger; deliveryAttempts: number }): Relay {
  let running: Promise<number> | undefined;
  let again = false;

  async function batch(): Promise<{ relayed: number; deliveries: { deliveryId: string; requestId?: string }[] }> {
    const client = await deps.db.pool.connect();
    let failure: Error | undefined;
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [RELAY_LOCK]);
      const { rows: events } = await client.query<{ id: string; type: string; request_id: string | null }>(
        `SELECT id, type, request_id FROM events WHERE position IS NULL ORDER BY created_at, id LIMIT $1`,
        [BATCH],
      );
      if (events.length === 0) {
        await client.query("COMMIT");
        return { relayed: 0, deliveries: [] };
      }
      await client.query(
        `UPDATE events e SET position = base.max + o.ord, relayed_at = now()
           FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, ord),
                (SELECT COALESCE(MAX(position), 0) AS max FROM events) AS base
          WHERE e.id = o.id`,
        [events.map((e) => e.id)],
      );
      const { rows: subscriptions } = await client.query<{ id: string; event_types: string[] }>(
        `SELECT id, event_types FROM subscriptions WHERE status = 'active' AND deleted_at IS NULL`,
      );
      const pairs: [string, string, string][] = [];
      for (const event of events) {
        for (const sub of subscriptions) {
          if (matchesEventType(sub.event_types, event.type)) pairs.push([randomUUID(), event.id, sub.id]);
        }
      }
      let deliveries: { deliveryId: string; requestId?: string }[] = [];
      if (pairs.length > 0) {
        const { rows } = await client.query<{ id: string; event_id: string }>(
          `INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, updated_at)
           SELECT * , 'pending', now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[])
           ON CONFLICT (event_id, subscription_id) DO NOTHING RETURNING id, event_id`,
          [pairs.map((p) => p[0]), pairs.map((p) => p[1]), pairs.map((p) => p[2])],
        );
        // The request that caused the event follows it into the delivery job's logs.
        const requestIds = new Map(events.map((e) => [e.id, e.request_id ?? undefined]));
        deliveries = rows.map((r) => ({ deliveryId: r.id, requestId: requestIds.get(r.event_id) }));
      }
      await client.query("COMMIT");
      return { relayed: events.length, deliveries };
    } catch (error) {
      failure = error as Error;
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release(failure); // destroyed when it failed: it may be broken
    }
  }

  async function runAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { relayed, deliveries } = await batch();
      total += relayed;
      if (deliveries.length > 0) {
        // If this fails, the deliveries stay pending and the delivery sweeper queues them.
        await deps.queues.enqueueMany("deliverWebhook", deliveries, { attempts: deps.deliveryAttempts });
      }
      if (relayed < BATCH) return total;
    }
  }

  const relay: Relay = {
    run() {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        let total = 0;
        do {
          again = false;
          total += await runAll();
        } while (again);
        return total;
      })().finally(() => {
        running = undefined;
      });
      return running;
    },
    nudge() {
      relay.run().catch((error: unknown) => deps.log.warn({ err: error }, "outbox relay failed; the scheduled relay will retry"));
    },
    async idle() {
      while (running) await running.catch(() => undefined);
    },
  };
  return relay;
}

/** Pending deliveries older than `olderThanMs` whose job may have been lost (enqueue failed after commit). */
export async function findStrandedDeliveries(db: Database, olderThanMs: number, limit: number): Promise<string[]> {
  const rows = await db.prisma.webhookDelivery.findMany({
    where: {
      status: "pending",
      OR: [
        { nextAttemptAt: null, createdAt: { lt: new Date(Date.now() - olderThanMs) } },
        { nextAttemptAt: { lt: new Date(Date.now() - olderThanMs) } },
      ],
    },
    select: { id: true },
    orderBy: { createdAt: "asc" },
    take: limit,
  });
  return rows.map((r) => r.id);
}
