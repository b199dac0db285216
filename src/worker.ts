// Composition root of the worker role: one BullMQ worker per queue, the job schedulers that drive the
// sweeps, and the outbox relay. Everything it needs is passed in.
import type { Worker } from "bullmq";
import type { RedisClient } from "./queues/redis.js";
import type { Logger } from "pino";
import type { Config } from "./config/env.js";
import type { Database } from "./db/client.js";
import { createAttemptRecorder } from "./delivery/attempt-recorder.js";
import { park, unpark } from "./delivery/parking.js";
import { runAttempt } from "./delivery/attempt.js";
import { createDeliveryPump } from "./delivery/pump.js";
import { pumpStore } from "./delivery/pump-store.js";
import type { DeliveryPump } from "./delivery/pump-types.js";
import { deliverySettings, pumpSettings } from "./delivery/settings.js";
import { backlogRoom } from "./config/delivery-env.js";
import { createRelay, type Relay } from "./delivery/relay.js";
import { createReplayFeeder } from "./delivery/replay-feeder.js";
import { releaseHeadsOfSubjects } from "./db/lane-modes.js";
import { findDelivery, resendFailed } from "./db/webhook-deliveries.js";
import type { Metrics } from "./observability/metrics.js";
import { createFloviInbox, type Committed } from "./pipeline/flovi/inbox.js";
import { inboxStore } from "./pipeline/flovi/inbox-store.js";
import { createFloviClient } from "./providers/flovi/client.js";
import { backfillFromList } from "./pipeline/flovi/backfill.js";
import { flagOverdueFinalCosts } from "./pipeline/flovi/overdue.js";
import { EnrichLater, enrichReservation } from "./pipeline/flovi/enrich.js";
import { reservationsWithoutDetails } from "./db/reservations.js";
import { reconcileReservations, reconcileStore } from "./pipeline/flovi/reconcile.js";
import { createPollingHandlers } from "./workers/poll-handlers.js";
import { pruneAll, retentionSettings } from "./maintenance/prune.js";
import { ExpectedError, ParkedFailure } from "./queues/errors.js";
import type { Queues } from "./queues/queues.js";
import { createWorker } from "./workers/run-job.js";
import { keepSchedulers } from "./workers/schedulers.js";
import { keepGoingWithoutRedis } from "./workers/without-redis.js";
import type { Brokers } from "./delivery/brokers/index.js";

export interface WorkerDeps {
  config: Config;
  db: Database;
  /** A worker connection (maxRetriesPerRequest: null). */
  redis: RedisClient;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
  /** The broker clients it publishes with (closed with the worker); made from the configuration when absent. */
  brokers?: Brokers;
}

export interface WorkerRuntime {
  workers: Worker[];
  relay: Relay;
  pump: DeliveryPump;
  /** Resolves when this process's in-memory work (inbox drain, relay, first attempts and their records) is done. */
  idle(): Promise<void>;
  /** Stops taking jobs and waits for active ones (BullMQ hands back what it cannot finish). */
  close(): Promise<void>;
}

export async function startWorker(deps: WorkerDeps): Promise<WorkerRuntime> {
  const { config, db, queues, log, metrics } = deps;
  const settings = deliverySettings(config, deps.brokers);
  // A delivery that failed for good is parked as a failed job, where operators replay failures from; once it
  // succeeds (re-sent by any path), its parked job goes.
  const recorder = createAttemptRecorder({
    db,
    log,
    settings,
    onFailed: (failed) => park(queues, failed, log),
    onResentDelivered: (delivered) => void unpark(queues, delivered, log),
    handover: () => pump.handover,
  });
  const pumpOptions = pumpSettings(config);
  const attemptDeps = { db, log, metrics, delivery: settings, recorder, logOutcomes: pumpOptions.logOutcomes ?? false };
  const pump = createDeliveryPump({
    store: pumpStore(db),
    log,
    attempt: (claimed, lane) => runAttempt(attemptDeps, claimed, lane),
    recorded: () => recorder.idle(),
    attemptTimeoutMs: settings.timeoutMs,
    settings: pumpOptions,
  });
  const relay = createRelay({ db, log, onDeliveries: (lanes) => pump.nudge(lanes), backlogRoom: backlogRoom(config) });
  // A replay's deliveries, a few seconds ahead of its pace (Postgres only: it goes on while Redis is away).
  const replays = createReplayFeeder({ db, log, onDeliveries: (lanes) => pump.nudge(lanes) });
  const dispatchCommitted = ({ events, deliveries, claimed, deferred }: Committed) => {
    for (const event of events) metrics.eventsEmitted.inc({ type: event.type });
    // A reservation's first event: fetch its details in the background (never in the way of the event).
    const fresh = events.filter((e) => e.data.entity === "reservation" && e.data.sequence === 1).map((e) => ({ reservationId: e.data.entityId }));
    if (fresh.length > 0 && flovi.enabled) {
      queues
        .enqueueMany("enrichReservation", fresh)
        .catch((error: unknown) => log.warn({ err: error }, "could not queue reservation details look-ups; the reconciliation sweep queues them"));
    }
    // The rest of a large fan-out: the relay writes it from the backlog, and tells the pump.
    if (deferred) relay.nudgeBacklog();
    if (!claimed) pump.nudge(new Set(deliveries.filter((d) => d.status === "pending").map((d) => d.subscriptionId)));
  };
  const inbox = createFloviInbox({ store: inboxStore(db, pump.claimWithin), log, onCommitted: dispatchCommitted });
  const flovi = createFloviClient({ baseUrl: config.FLOVI_API_BASE_URL, apiKey: config.FLOVI_API_KEY, timeoutMs: config.PROVIDER_TIMEOUT_MS });
  const common = { connection: deps.redis, prefix: queues.prefix, log, metrics, lockMs: config.JOB_LOCK_MS };
  const polling = createPollingHandlers({ config, db, queues, log, metrics, relay });

  const workers: Worker[] = [
    createWorker({
      ...common,
      queue: "flovi-events",
      options: { concurrency: config.WORKER_CONCURRENCY },
      handlers: {
        async processFloviDelivery({ inboundDeliveryId }, { log: jobLog }) {
          const result = await inbox.drain(inboundDeliveryId);
          if (result.applied > 0) jobLog.debug({ inboundDeliveryId, ...result }, "flovi inbox drained");
          return result;
        },
      },
    }),
    createWorker({
      ...common,
      queue: "maintenance",
      options: { concurrency: 4 },
      handlers: {
        sweepInbound: () => inbox.drain(),
        async relayOutbox() {
          const relayed = await relay.run();
          // Ordered mode's safety net (db/delivery-lanes.ts); the pump's poll claims what it releases.
          const released = await releaseHeadsOfSubjects(db);
          return { relayed, released };
        },
        async reconcileReservations(_data, { log: jobLog }) {
          // The list first: what it shows needs no look-up of its own (and reservations we never heard of are
          // only found there); then one look-up each for the silent ones it did not cover.
          const backfill = await backfillFromList({
            db,
            client: flovi,
            log: jobLog,
            onCommitted: dispatchCommitted,
            lookbackMs: config.FLOVI_BACKFILL_LOOKBACK_MS,
            maxPagesPerRun: config.FLOVI_BACKFILL_PAGES_PER_RUN,
            silentForMs: config.FLOVI_RECONCILE_AFTER_MS,
          });
          const lookups = await reconcileReservations({
            store: reconcileStore(db),
            client: flovi,
            log: jobLog,
            onCommitted: dispatchCommitted,
            silentForMs: config.FLOVI_RECONCILE_AFTER_MS,
          });
          // Reservations still without their details (a lost job, or known before the key was set): queued again.
          const missing = await reservationsWithoutDetails(db, 500);
          if (missing.length > 0)
            await queues.enqueueMany(
              "enrichReservation",
              missing.map((reservationId) => ({ reservationId })),
            );
          return { backfill, ...lookups, detailsQueued: missing.length };
        },
        async enrichReservation({ reservationId }, { log: jobLog }) {
          try {
            return { outcome: await enrichReservation({ db, client: flovi, log: jobLog, onCommitted: dispatchCommitted }, reservationId) };
          } catch (error) {
            if (error instanceof EnrichLater) throw new ExpectedError(error.message);
            throw error;
          }
        },
        async flagOverdueFinalCosts(_data, { log: jobLog }) {
          return flagOverdueFinalCosts({ db, client: flovi, log: jobLog, overdueMs: config.FLOVI_FINAL_COSTS_OVERDUE_MS, onCommitted: dispatchCommitted });
        },
        async pruneStorage(_data, { log: jobLog }) {
          return pruneAll({ db, log: jobLog, metrics }, retentionSettings(config), { batchSize: config.RETENTION_BATCH_SIZE, budgetMs: 60_000 });
        },
        ...polling.sweepHandlers,
      },
    }),
    createWorker({
      ...common,
      queue: "webhook-deliveries",
      handlers: {
        async parkDelivery(data, { job }) {
          const delivery = await findDelivery(db, data.webhookDeliveryId);
          if (delivery?.status !== "failed") return "skipped";
          // A job of the previous version (it carried `scheduleAttempt`) failed as an attempt: retrying it re-sends.
          const legacy = typeof job.data === "object" && job.data !== null && "scheduleAttempt" in job.data;
          if (!data.parked && !legacy) {
            await job.updateData({ ...data, parked: true });
            throw new ParkedFailure(data.reason ?? "delivery failed");
          }
          // An operator retried the parked job: send again, from the start of the schedule.
          const resent = await resendFailed(db, [data.webhookDeliveryId]);
          pump.nudge([delivery.subscriptionId]);
          return resent > 0 ? "resent" : "skipped";
        },
      },
    }),
    ...polling.createWorkers(common),
  ];

  // The job schedulers that drive the sweeps; put back whenever Redis comes back empty.
  const schedulers = await keepSchedulers({ config, queues, redis: deps.redis, log });
  // While Redis is away, the inbox and the outbox are swept from Postgres alone (the pump polls all along).
  const withoutRedis = keepGoingWithoutRedis({
    redis: deps.redis,
    everyMs: config.REDIS_DOWN_SWEEP_INTERVAL_MS,
    log,
    sweep: async () => {
      await inbox.drain();
      await relay.run();
      await releaseHeadsOfSubjects(db);
    },
  });

  let closing: Promise<void> | undefined;
  const idle = async () => {
    await withoutRedis.idle();
    await inbox.idle();
    await relay.idle();
    await replays.idle();
    await pump.idle();
  };
  return {
    workers,
    relay,
    pump,
    idle,
    close() {
      closing ??= (async () => {
        schedulers.stop();
        withoutRedis.stop();
        relay.stop();
        replays.stop();
        await withoutRedis.idle();
        await Promise.allSettled(workers.map((w) => w.close()));
        await inbox.idle();
        await relay.idle();
        await replays.idle();
        await pump.close();
        settings.client.close();
        await settings.brokers.close();
      })();
      return closing;
    },
  };
}
