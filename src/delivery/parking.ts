// Where deliveries that failed for good are parked: a failed job named `parked-delivery` in the webhook-deliveries
// queue, where operators find and replay failures (docs/delivery.md). A parked job leaves once its delivery
// succeeds, whatever sent it again (the job itself, the API, the console, recover).
import type { Logger } from "pino";
import { jobs } from "../queues/catalog.js";
import type { Queues } from "../queues/queues.js";
import type { FailedDelivery } from "./attempt-recorder.js";

/** Parks deliveries that failed for good (fire and forget: they stay failed in the database either way). */
export function park(queues: Queues, failed: FailedDelivery[], log: Logger): void {
  queues
    .enqueueMany(
      "parkDelivery",
      failed.map((f) => ({ webhookDeliveryId: f.webhookDeliveryId, attempt: f.attempt, reason: f.reason.slice(0, 2000) })),
    )
    .catch((error: unknown) => log.warn({ err: error }, "could not park failed deliveries as jobs; they stay failed in the database"));
}

/** How many of a delivery's earlier attempts are looked up for parked jobs (one job per failure, by attempt). */
const LOOK_BACK_ATTEMPTS = 50;

/** Removes the parked (failed) jobs of deliveries that have now succeeded. */
export async function unpark(queues: Queues, delivered: { webhookDeliveryId: string; attempt: number }[], log: Logger): Promise<void> {
  const queue = queues.get("webhook-deliveries");
  const ids = delivered.flatMap(({ webhookDeliveryId, attempt }) => [
    jobs.parkDelivery.jobId({ webhookDeliveryId }),
    ...Array.from({ length: Math.min(attempt - 1, LOOK_BACK_ATTEMPTS) }, (_, i) => jobs.parkDelivery.jobId({ webhookDeliveryId, attempt: attempt - 1 - i })),
  ]);
  try {
    for (const job of await Promise.all(ids.map((id) => queue.getJob(id)))) {
      if (job && (await job.isFailed())) await job.remove();
    }
  } catch (error) {
    log.warn({ err: error }, "could not remove parked jobs of deliveries that succeeded; remove them from the queue by hand");
  }
}
