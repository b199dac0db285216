import { Queue } from "bullmq";
import { queueTelemetry, addWithQueueTracing } from "./telemetry.js";
import type { RedisClient } from "./redis.js";
import { withTimeout } from "../lib/timeout.js";
import { jobs, QUEUE_NAMES, type JobData, type JobKey, type QueueName } from "./catalog.js";

/**
 * What a producer may choose: another job id (an operator's re-send must not collide with the finished
 * original) or a delay. Attempts and backoff belong to the catalog.
 */
interface EnqueueOptions {
  jobId?: string;
  delay?: number;
}

export interface Queues {
  /** Validates the payload against the catalog and adds it under its deterministic job id. */
  enqueue<K extends JobKey>(key: K, data: JobData<K>, options?: EnqueueOptions): Promise<string>;
  enqueueMany<K extends JobKey>(key: K, items: JobData<K>[], options?: EnqueueOptions): Promise<void>;
  get(name: QueueName): Queue;
  all(): Queue[];
  readonly prefix: string;
  close(): Promise<void>;
}

/**
 * The BullMQ key prefix of one queue: a Redis Cluster hash tag per queue, `{<QUEUE_PREFIX>:<queue>}`. BullMQ
 * needs every key of a queue on one slot; one tag per queue (not one for all) lets a cluster spread the
 * queues over its shards. Producers and workers must agree on it: both call this.
 */
export function queuePrefix(base: string, queue: QueueName): string {
  return `{${base}:${queue}}`;
}

export function createQueues(opts: {
  connection: RedisClient;
  prefix: string;
  addTimeoutMs?: number;
  /** Connection errors surface through the calls that fail; this only observes them. */
  onError?: (error: Error) => void;
}): Queues {
  const queues = new Map<QueueName, Queue>(
    QUEUE_NAMES.map((name) => {
      const queue = new Queue(name, { connection: opts.connection, prefix: queuePrefix(opts.prefix, name), ...queueTelemetry(name) });
      queue.on("error", opts.onError ?? (() => undefined));
      return [name, queue];
    }),
  );
  // Bounded so an unreachable Redis costs a producer at most this long, never a hung request.
  const addTimeoutMs = opts.addTimeoutMs ?? 2_000;
  let closing: Promise<void> | undefined;

  function get(name: QueueName): Queue {
    const queue = queues.get(name);
    if (!queue) throw new Error(`unknown queue ${name}`);
    return queue;
  }

  function prepare<K extends JobKey>(key: K, data: JobData<K>, options?: EnqueueOptions) {
    const def = jobs[key];
    const payload = def.schema.parse(data) as JobData<K>;
    const jobId = (def.jobId as (d: JobData<K>) => string)(payload);
    // A caller may name another id (an operator re-send must not collide with the finished original).
    return { def, payload, opts: { ...def.options, jobId, ...options } };
  }

  return {
    prefix: opts.prefix,
    get,
    all: () => [...queues.values()],
    async enqueue(key, data, options) {
      const { def, payload, opts: jobOpts } = prepare(key, data, options);
      const job = await withTimeout(
        addWithQueueTracing(def.queue, () => get(def.queue).add(def.name, payload, jobOpts)),
        addTimeoutMs,
        "redis enqueue timed out",
      );
      return job.id ?? jobOpts.jobId;
    },
    async enqueueMany(key, items, options) {
      if (items.length === 0) return;
      const prepared = items.map((item) => prepare(key, item, options));
      const def = jobs[key];
      await withTimeout(
        addWithQueueTracing(def.queue, () => get(def.queue).addBulk(prepared.map((p) => ({ name: def.name, data: p.payload, opts: p.opts })))),
        addTimeoutMs * 5,
        "redis enqueue timed out",
      );
    },
    close() {
      closing ??= Promise.allSettled([...queues.values()].map((q) => q.close())).then(() => undefined);
      return closing;
    },
  };
}
