// Composition root of the worker role: one BullMQ worker per queue, the job schedulers that drive the
// sweeps, and the outbox relay. Everything it needs is passed in.
import type { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { providerEnabled, type Config } from "./config/env.js";
import type { Database } from "./db/client.js";
import { findUnprocessedDeliveries } from "./db/inbound-deliveries.js";
import { attemptDelivery } from "./delivery/deliver.js";
import { deliverySettings } from "./delivery/settings.js";
import { createRelay, findStrandedDeliveries, type Relay } from "./delivery/relay.js";
import type { Metrics } from "./observability/metrics.js";
import { applyFloviDelivery } from "./providers/flovi/apply-delivery.js";
import { createFloviClient } from "./providers/flovi/client.js";
import { reconcileReservations } from "./providers/flovi/reconcile.js";
import { createPollingHandlers } from "./polling/handlers.js";
import { jobs, type JobKey } from "./queues/catalog.js";
import { ExpectedError } from "./queues/errors.js";
import type { Queues } from "./queues/queues.js";
import { createWorker } from "./workers/run-job.js";

export interface WorkerDeps {
  config: Config;
  db: Database;
  /** A worker connection (maxRetriesPerRequest: null). */
  redis: Redis;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
}

export interface WorkerRuntime {
  workers: Worker[];
  relay: Relay;
  /** Stops taking jobs and waits for active ones (BullMQ hands back what it cannot finish). */
  close(): Promise<void>;
}

export async function startWorker(deps: WorkerDeps): Promise<WorkerRuntime> {
  const { config, db, queues, log, metrics } = deps;
  const relay = createRelay({ db, queues, log, deliveryAttempts: config.DELIVERY_RETRY_SCHEDULE.length });
  const settings = deliverySettings(config);
  const flovi = createFloviClient({ baseUrl: config.FLOVI_API_BASE_URL, apiKey: config.FLOVI_API_KEY, timeoutMs: config.PROVIDER_TIMEOUT_MS });
  const common = { connection: deps.redis, prefix: queues.prefix, log, metrics, lockMs: config.JOB_LOCK_MS };
  const polling = createPollingHandlers({ config, db, queues, log, metrics, relay });

  const workers: Worker[] = [
    createWorker({
      ...common,
      queue: "flovi-events",
      options: { concurrency: config.WORKER_CONCURRENCY },
      handlers: {
        async [jobs.processFloviDelivery.name](job, jobLog) {
          const result = await applyFloviDelivery({ db, log: jobLog }, job.data.deliveryId);
          if (result.kind === "applied") {
            for (const event of result.events) metrics.eventsEmitted.inc({ type: event.type });
            if (result.events.length > 0) relay.nudge();
            jobLog.info({ deliveryId: job.data.deliveryId, outcome: result.outcome, events: result.events.length }, "flovi delivery applied");
          }
          return result.kind === "applied" ? { outcome: result.outcome, events: result.events.map((e) => e.id) } : result;
        },
      },
    }),
    createWorker({
      ...common,
      queue: "maintenance",
      options: { concurrency: 4 },
      handlers: {
        async [jobs.sweepInbound.name]() {
          const stranded = await findUnprocessedDeliveries(db, 5_000, 1_000);
          await queues.enqueueMany("processFloviDelivery", stranded.map((d) => ({ deliveryId: d.id, requestId: d.requestId ?? undefined })));
          return { enqueued: stranded.length };
        },
        async [jobs.relayOutbox.name]() {
          const relayed = await relay.run();
          const stranded = await findStrandedDeliveries(db, 30_000, 1_000);
          await queues.enqueueMany("deliverWebhook", stranded.map((deliveryId) => ({ deliveryId })), {
            attempts: config.DELIVERY_RETRY_SCHEDULE.length,
          });
          return { relayed, requeued: stranded.length };
        },
        async [jobs.reconcileReservations.name](_job, jobLog) {
          return reconcileReservations({ db, client: flovi, log: jobLog, relay, silentForMs: config.FLOVI_RECONCILE_AFTER_MS });
        },
        ...polling.sweepHandlers,
      },
    }),
    createWorker({
      ...common,
      queue: "webhook-deliveries",
      options: {
        concurrency: Math.max(16, config.WORKER_CONCURRENCY * 2),
        settings: {
          // The attempt computed its own delay (schedule, jitter, Retry-After) and recorded it.
          backoffStrategy: (_attempts, _type, err) => (err instanceof ExpectedError && err.delayMs !== undefined ? err.delayMs : 1_000),
        },
      },
      handlers: {
        async [jobs.deliverWebhook.name](job, jobLog) {
          const result = await attemptDelivery({ db, log: jobLog, settings }, job.data.deliveryId, job.attemptsMade + 1);
          metrics.deliveries.inc({ outcome: result });
          return result;
        },
      },
    }),
    ...polling.createWorkers(common),
  ];

  // Deliveries that exhausted their retries: the job failed, the row says why.
  const floviWorker = workers[0]!;
  floviWorker.on("failed", (job, error) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    db.prisma.inboundDelivery
      .updateMany({ where: { id: job.data.deliveryId, status: "received" }, data: { status: "failed", statusReason: error.message.slice(0, 500) } })
      .catch((err: unknown) => log.error({ err, deliveryId: job.data.deliveryId }, "could not mark delivery failed"));
  });

  await registerSchedulers(deps);
  // Redis may come back empty (restarted without persistence, failed over): put the schedulers back.
  let connectedOnce = false;
  const onReady = () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    registerSchedulers(deps).catch((error: unknown) => log.warn({ err: error }, "could not re-register job schedulers"));
  };
  if (deps.redis.status === "ready") connectedOnce = true;
  deps.redis.on("ready", onReady);

  let closing: Promise<void> | undefined;
  return {
    workers,
    relay,
    close() {
      closing ??= (async () => {
        deps.redis.off("ready", onReady);
        await Promise.allSettled(workers.map((w) => w.close()));
        await relay.idle();
      })();
      return closing;
    },
  };
}

async function registerSchedulers({ config, queues }: WorkerDeps) {
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
  await schedule("reconcileReservations", config.FLOVI_RECONCILE_INTERVAL_MS, providerEnabled.floviLookups(config));
  await schedule("sweepMfb", config.POLL_SWEEP_INTERVAL_MS, providerEnabled.mfb(config));
  await schedule("sweepGreenflow", config.POLL_SWEEP_INTERVAL_MS, providerEnabled.greenflow(config));
}
