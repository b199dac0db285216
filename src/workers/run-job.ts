// Shared plumbing for every BullMQ worker: payload validation against the catalog, metrics, logging
// with the request id that created the job, and failure classification. Handlers are registered per catalog
// key and receive the parsed payload, typed by the catalog's schema.
import { RateLimitError, UnrecoverableError, Worker, type Job, type WorkerOptions } from "bullmq";
import type { RedisClient } from "../queues/redis.js";
import type { Logger } from "pino";
import { ExpectedError, ParkedFailure } from "../queues/errors.js";
import { jobKeyByName, jobs, type JobData, type JobKey, type JobsOf, type QueueName } from "../queues/catalog.js";
import { queuePrefix } from "../queues/queues.js";
import type { Metrics } from "../observability/metrics.js";
import { queueTelemetry } from "../queues/telemetry.js";

interface JobContext {
  /** The BullMQ job (its id, attemptsMade), for the few handlers that need more than the payload. */
  job: Job;
  log: Logger;
}

type JobHandler<K extends JobKey> = (data: JobData<K>, ctx: JobContext) => Promise<unknown>;

/** One handler for every job of queue Q, keyed by catalog key. */
export type QueueHandlers<Q extends QueueName> = { [K in JobsOf<Q>]: JobHandler<K> };

export function createWorker<Q extends QueueName>(opts: {
  queue: Q;
  handlers: QueueHandlers<Q>;
  connection: RedisClient;
  prefix: string;
  log: Logger;
  metrics: Metrics;
  /** Lock duration and stalled-job check interval (JOB_LOCK_MS). */
  lockMs?: number;
  options?: Partial<WorkerOptions>;
}): Worker {
  const worker = new Worker(
    opts.queue,
    async (job) => {
      const key = jobKeyByName(opts.queue, job.name) as JobsOf<Q> | undefined;
      const handler = key && (opts.handlers[key] as JobHandler<JobKey> | undefined);
      if (!key || !handler) throw new UnrecoverableError(`no handler for job ${job.name} on ${opts.queue}`);
      const parsed = jobs[key].schema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid payload for ${job.name}: ${parsed.error.message}`);
      const data = parsed.data as { requestId?: string };
      const log = opts.log.child({ queue: opts.queue, job: job.name, jobId: job.id, attempt: job.attemptsMade + 1, requestId: data.requestId });
      const end = opts.metrics.jobDuration.startTimer({ queue: opts.queue, job: job.name });
      try {
        const result = await handler(parsed.data as JobData<JobKey>, { job, log });
        opts.metrics.jobsProcessed.inc({ queue: opts.queue, job: job.name, outcome: "completed" });
        return result;
      } catch (error) {
        const rateLimited = error instanceof RateLimitError;
        const expected = rateLimited || error instanceof ExpectedError || error instanceof ParkedFailure;
        opts.metrics.jobsProcessed.inc({
          queue: opts.queue,
          job: job.name,
          outcome: rateLimited ? "rate_limited" : error instanceof ParkedFailure ? "parked" : expected ? "retry" : "failed",
        });
        if (!expected) log.error({ err: error }, "job failed");
        throw error;
      } finally {
        end();
      }
    },
    {
      connection: opts.connection,
      prefix: queuePrefix(opts.prefix, opts.queue),
      concurrency: 4,
      autorun: true,
      ...queueTelemetry(opts.queue),
      ...(opts.lockMs ? { lockDuration: opts.lockMs, stalledInterval: opts.lockMs } : {}),
      ...opts.options,
    },
  );
  // A BullMQ worker's errors are its Redis connection's (a lost one is an outage: observability/outages.ts).
  worker.on("error", (error) => {
    // Redis restarted without its data: the jobs this worker held are gone. Their work is in Postgres and the
    // sweeps queue it again; one line per such job would drown the outage's own line.
    if (/^Missing key for job/.test(error.message))
      opts.log.debug({ queue: opts.queue, err: error }, "a job Redis no longer has; the sweeps queue its work again");
    else opts.log.warn({ queue: opts.queue, dependency: "redis", err: error }, "worker connection error");
  });
  return worker;
}
