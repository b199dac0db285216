// Coalesces enqueues that arrive together into one addBulk (one Redis round trip). Fire and forget:
// callers have already made their work durable elsewhere, and a sweeper re-enqueues what this drops.
import type { Logger } from "pino";
import type { JobData, JobKey } from "./catalog.js";
import type { Queues } from "./queues.js";

export interface BatchedEnqueuer<K extends JobKey> {
  push(data: JobData<K>): void;
  /** Resolves when everything pushed so far has been sent (or has failed). */
  idle(): Promise<void>;
}

export function createBatchedEnqueuer<K extends JobKey>(queues: Queues, key: K, log: Logger, maxBatch = 500): BatchedEnqueuer<K> {
  let pending: JobData<K>[] = [];
  let running: Promise<void> | undefined;

  async function drain() {
    while (pending.length > 0) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        await queues.enqueueMany(key, batch);
      } catch (error) {
        log.warn({ err: error, jobs: batch.length, job: key }, "enqueue failed; the sweeper will enqueue these later");
      }
    }
  }

  return {
    push(data) {
      pending.push(data);
      running ??= new Promise<void>((resolve) => setImmediate(resolve))
        .then(drain)
        .finally(() => {
          running = undefined;
        });
    },
    async idle() {
      while (running) await running;
    },
  };
}
