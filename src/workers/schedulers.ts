// The job schedulers that drive the maintenance sweeps (inbox, outbox, retention, Flovi look-ups, provider
// polls): one per sweep, upserted at start and whenever Redis comes back empty (restarted without
// persistence, failed over); a sweep whose interval is 0, or whose provider is off, has none.
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import { providerEnabled } from "../config/providers.js";
import { jobs, type JobKey } from "../queues/catalog.js";
import type { Queues } from "../queues/queues.js";
import type { RedisClient } from "../queues/redis.js";

/** Registers the schedulers now and again after every reconnection; `stop` ends the watching. */
export async function keepSchedulers(deps: { config: Config; queues: Queues; redis: RedisClient; log: Logger }): Promise<{ stop(): void }> {
  await registerSchedulers(deps);
  let connectedOnce = deps.redis.status === "ready";
  const onReady = () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    registerSchedulers(deps).catch((error: unknown) => deps.log.warn({ err: error }, "could not re-register job schedulers"));
  };
  deps.redis.on("ready", onReady);
  return { stop: () => deps.redis.off("ready", onReady) };
}

/** How often a provider's sweep runs: POLL_SWEEP_INTERVAL_MS, or the poll interval when that is shorter (never under 250 ms). */
export function sweepEvery(sweepMs: number, pollIntervalMs: number): number {
  return Math.max(250, Math.min(sweepMs, pollIntervalMs));
}

async function registerSchedulers({ config, queues }: { config: Config; queues: Queues }) {
  const maintenance = queues.get("maintenance");
  const schedule = async (key: JobKey, everyMs: number, enabled = true) => {
    const def = jobs[key];
    if (!enabled || everyMs <= 0) {
      await maintenance.removeJobScheduler(def.name);
      return;
    }
    await maintenance.upsertJobScheduler(def.name, { every: everyMs }, { name: def.name, data: {}, opts: { removeOnComplete: true, removeOnFail: 100 } });
  };
  await schedule("sweepInbound", config.INBOUND_SWEEP_INTERVAL_MS);
  await schedule("relayOutbox", config.OUTBOX_SWEEP_INTERVAL_MS);
  await schedule("pruneStorage", config.RETENTION_PRUNE_INTERVAL_MS);
  await schedule("reconcileReservations", config.FLOVI_RECONCILE_INTERVAL_MS, providerEnabled.floviLookups(config));
  // Overdue final costs need no API key (the price is added when there is one).
  await schedule("flagOverdueFinalCosts", config.FLOVI_RECONCILE_INTERVAL_MS);
  // A poll interval shorter than the sweep interval is honoured: the sweep runs at least that often.
  await schedule("sweepMfb", sweepEvery(config.POLL_SWEEP_INTERVAL_MS, config.MFB_POLL_INTERVAL_MS), providerEnabled.mfb(config));
  await schedule("sweepGreenflow", sweepEvery(config.POLL_SWEEP_INTERVAL_MS, config.GREENFLOW_POLL_INTERVAL_MS), providerEnabled.greenflow(config));
}
