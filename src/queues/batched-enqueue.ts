// Coalesces enqueues that arrive together into one addBulk (one Redis round trip), on the same group-commit
// writer as the database batches. Fire and forget: callers have already made their work durable elsewhere,
// and a sweeper re-enqueues what this drops.
import type { Logger } from "pino";
import { createGroupWriter } from "../lib/group-commit.js";
import type { JobData, JobKey } from "./catalog.js";
import type { Queues } from "./queues.js";

export interface BatchedEnqueuer<K extends JobKey> {
  push(data: JobData<K>): void;
  /** Resolves when everything pushed so far has been sent (or has failed). */
  idle(): Promise<void>;
}

export function createBatchedEnqueuer<K extends JobKey>(queues: Queues, key: K, log: Logger, maxBatch = 500): BatchedEnqueuer<K> {
  const writer = createGroupWriter<JobData<K>, void>(async (batch) => {
    try {
      await queues.enqueueMany(key, batch);
    } catch (error) {
      log.warn({ err: error, jobs: batch.length, job: key }, "enqueue failed; the sweeper will enqueue these later");
    }
    return batch.map(() => undefined);
  }, maxBatch);
  return {
    push(data) {
      void writer.write(data);
    },
    idle: writer.idle,
  };
}
