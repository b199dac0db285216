// Progress without Redis (docs/operations.md, "When Redis or Postgres goes away"). Redis only rings the bell:
// the inbox, the outbox and the deliveries are in Postgres. While the worker's Redis connection is not ready,
// no job arrives (neither a delivery's own job nor the scheduled sweeps), so this loop does their work from
// Postgres alone, every `everyMs`: it drains the inbox and relays the outbox, the same calls the jobs make.
// The delivery pump needs nothing of it: its own poll claims due deliveries from Postgres all along.
// Both are safe beside any number of other processes doing the same (advisory locks, SKIP LOCKED), so when
// Redis is back the jobs queued before the outage find their work done and cost one empty pass each.
import type { Logger } from "pino";
import { systemClock, type Clock } from "../lib/clock.js";

export interface WithoutRedisDeps {
  /** The worker's connection to Redis: its `status` is "ready" while Redis answers (ioredis, also Cluster). */
  redis: { status: string };
  /** What the jobs would have done: drain the inbox, relay the outbox. */
  sweep: () => Promise<unknown>;
  everyMs: number;
  log: Logger;
  clock?: Clock;
}

export interface WithoutRedis {
  /** Resolves when the sweep under way (if any) ends. */
  idle(): Promise<void>;
  stop(): void;
}

export function keepGoingWithoutRedis(deps: WithoutRedisDeps): WithoutRedis {
  const clock = deps.clock ?? systemClock;
  let running: Promise<void> | undefined;
  let sweeps = 0;
  let away = false;
  const tick = () => {
    if (deps.redis.status === "ready") {
      // The outage tracker says "redis is back"; this only counts what was done meanwhile.
      if (away) deps.log.debug({ sweeps }, "redis answers again: back to its wake-ups, no more sweeps from Postgres alone");
      away = false;
      sweeps = 0;
      return;
    }
    away = true;
    if (running !== undefined) return;
    sweeps++;
    running = deps
      .sweep()
      .then(() => undefined)
      // A lost Postgres connection is the outage tracker's to say (observability/outages.ts); the next tick retries.
      .catch((error: unknown) =>
        deps.log.warn({ err: error, dependency: "postgres" }, "could not sweep from Postgres while Redis is away; the next tick retries"),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = deps.everyMs > 0 ? clock.interval(tick, deps.everyMs) : undefined;
  return {
    idle: async () => {
      await running;
    },
    stop: () => timer?.cancel(),
  };
}
