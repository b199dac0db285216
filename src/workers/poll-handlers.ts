// Worker wiring for polling: the two sweeps (run by job schedulers on the maintenance queue) and one
// rate-limited queue per provider for the polls themselves.
import { Worker } from "bullmq";
import type { RedisClient } from "../queues/redis.js";
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import { providerEnabled } from "../config/providers.js";
import type { Database } from "../db/client.js";
import type { Relay } from "../delivery/relay.js";
import type { Metrics } from "../observability/metrics.js";
import { createGreenflowClient } from "../providers/greenflow/client.js";
import { createMfbClient } from "../providers/mfb/client.js";
import type { Queues } from "../queues/queues.js";
import { createWorker, type QueueHandlers } from "./run-job.js";
import { GREENFLOW, greenflowPollStore, pollGreenflowBooking } from "../pipeline/polling/greenflow-poller.js";
import type { PollOutcome } from "../pipeline/polling/failures.js";
import { MFB, mfbPollStore, pollMfbOrder } from "../pipeline/polling/mfb-poller.js";
import { providerPausedUntil } from "../db/provider-state.js";
import { claimDue, type TrackedKind } from "../db/tracked-items.js";
import { inSpan, linkToActive, ROOT_CONTEXT, tracingOn } from "../observability/spans.js";

/**
 * Tracing on: each poll is a trace of its own (linked to the job that ran it), and the events it writes
 * continue it (db/outbox.ts stores the active context with them).
 */
function ownTrace(name: string, attributes: Record<string, string>, poll: () => Promise<PollOutcome>): Promise<PollOutcome> {
  if (!tracingOn()) return poll();
  return inSpan(name, { parent: ROOT_CONTEXT, attributes, links: linkToActive() }, async (span) => {
    const outcome = await poll();
    span.setAttribute("hub.outcome", outcome.kind);
    return outcome;
  });
}

/** A claimed item whose poll never ran (worker died) is due again after this. */
const CLAIM_LEASE_MS = 10 * 60_000;
const MAX_BATCHES_PER_SWEEP = 50;

export interface PollingDeps {
  config: Config;
  db: Database;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
  relay: Relay;
}

export function createPollingHandlers(deps: PollingDeps) {
  const { config, db, queues, metrics, relay } = deps;
  const timeoutMs = config.PROVIDER_TIMEOUT_MS;
  const mfb = providerEnabled.mfb(config)
    ? createMfbClient({ baseUrl: config.MFB_API_BASE_URL, login: config.MFB_LOGIN!, password: config.MFB_PASSWORD!, timeoutMs })
    : undefined;
  const greenflow = providerEnabled.greenflow(config)
    ? createGreenflowClient({ baseUrl: config.GREENFLOW_API_BASE_URL, apiKey: config.GREENFLOW_API_KEY!, timeoutMs })
    : undefined;

  const mfbSettings = {
    intervalMs: config.MFB_POLL_INTERVAL_MS,
    pauseMs: config.PROVIDER_PAUSE_MS,
    ceilingMs: config.MFB_POLL_CEILING_MS,
    staleAfterMs: config.MFB_STALE_AFTER_MS,
  };
  const greenflowSettings = {
    intervalMs: config.GREENFLOW_POLL_INTERVAL_MS,
    pauseMs: config.PROVIDER_PAUSE_MS,
    ceilingMs: config.GREENFLOW_POLL_CEILING_MS,
    staleAfterMs: Number.POSITIVE_INFINITY,
  };

  async function sweep(provider: TrackedKind, enqueue: (keys: string[]) => Promise<void>) {
    if (await providerPausedUntil(db, provider)) return { claimed: 0, paused: true };
    let claimed = 0;
    for (let i = 0; i < MAX_BATCHES_PER_SWEEP; i++) {
      const keys = await claimDue(db, provider, config.POLL_BATCH_SIZE, CLAIM_LEASE_MS);
      if (keys.length > 0) await enqueue(keys);
      claimed += keys.length;
      if (keys.length < config.POLL_BATCH_SIZE) break;
    }
    return { claimed };
  }

  const sweepHandlers: Pick<QueueHandlers<"maintenance">, "sweepMfb" | "sweepGreenflow"> = {
    sweepMfb: () =>
      mfb
        ? sweep(MFB, (ids) =>
            queues.enqueueMany(
              "pollMfbOrder",
              ids.map((orderId) => ({ orderId })),
            ),
          )
        : Promise.resolve({ disabled: true }),
    sweepGreenflow: () =>
      greenflow
        ? sweep(GREENFLOW, (codes) =>
            queues.enqueueMany(
              "pollGreenflowBooking",
              codes.map((bookingCode) => ({ bookingCode })),
            ),
          )
        : Promise.resolve({ disabled: true }),
  };

  /** Records the outcome; a 429 pauses the whole provider queue for Retry-After (BullMQ's rate-limit pattern). */
  async function settle(provider: string, worker: () => Worker, outcome: PollOutcome) {
    metrics.polls.inc({ provider, outcome: outcome.kind });
    if (outcome.kind === "polled" && outcome.undocumented && outcome.status) metrics.undocumentedStatuses.inc({ provider, status: outcome.status });
    if ((outcome.kind === "polled" || outcome.kind === "stopped") && outcome.newEvents > 0) {
      metrics.eventsEmitted.inc({ type: `${provider}.poll` }, outcome.newEvents);
      relay.nudge();
    }
    if (outcome.kind === "rate_limited") {
      await worker().rateLimit(outcome.retryAfterMs);
      throw Worker.RateLimitError();
    }
    return outcome;
  }

  function createWorkers(common: { connection: RedisClient; prefix: string; log: Logger; metrics: Metrics; lockMs?: number }): Worker[] {
    const workers: Worker[] = [];
    if (mfb) {
      const client = mfb;
      const mfbStore = mfbPollStore(db);
      const worker: Worker = createWorker({
        ...common,
        queue: "mfb-polls",
        options: { concurrency: config.WORKER_CONCURRENCY, limiter: { max: config.MFB_RATE_LIMIT_PER_SECOND, duration: 1_000 } },
        handlers: {
          pollMfbOrder: async ({ orderId }, { log: jobLog }) =>
            settle(
              MFB,
              () => worker,
              await ownTrace("mfb.poll", { "hub.mfb_order_id": orderId }, () =>
                pollMfbOrder({ store: mfbStore, client, log: jobLog, settings: mfbSettings }, orderId),
              ),
            ),
        },
      });
      workers.push(worker);
    }
    if (greenflow) {
      const client = greenflow;
      const greenflowStore = greenflowPollStore(db);
      const worker: Worker = createWorker({
        ...common,
        queue: "greenflow-polls",
        options: { concurrency: config.WORKER_CONCURRENCY, limiter: { max: config.GREENFLOW_RATE_LIMIT_PER_SECOND, duration: 1_000 } },
        handlers: {
          pollGreenflowBooking: async ({ bookingCode }, { log: jobLog }) =>
            settle(
              GREENFLOW,
              () => worker,
              await ownTrace("greenflow.poll", { "hub.booking_code": bookingCode }, () =>
                pollGreenflowBooking(
                  { store: greenflowStore, client, log: jobLog, settings: greenflowSettings, timeZone: config.GREENFLOW_TIME_ZONE },
                  bookingCode,
                ),
              ),
            ),
        },
      });
      workers.push(worker);
    }
    return workers;
  }

  return { sweepHandlers, createWorkers };
}
