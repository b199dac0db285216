// Every queue and every job in one place: queue name, job name, payload schema, deterministic jobId,
// attempts and backoff. Producers and workers both go through this file, and only this file sets attempts
// and backoff: a producer may name a job id or a delay (queues.ts `EnqueueOptions`), nothing else.
import type { JobsOptions } from "bullmq";
import { z } from "zod";

/** Reads a payload queued before a field was renamed (jobs may wait in Redis across an upgrade). */
const renamed = <S extends z.ZodObject>(schema: S, from: string, to: string) =>
  z.preprocess(
    (data) => (data && typeof data === "object" && from in data && !(to in data) ? { ...data, [to]: (data as Record<string, unknown>)[from] } : data),
    schema,
  );

export const QUEUE_NAMES = ["flovi-events", "maintenance", "mfb-polls", "greenflow-polls", "webhook-deliveries"] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobDefinition<S extends z.ZodType = z.ZodType, Q extends QueueName = QueueName> {
  queue: Q;
  name: string;
  /** Names this job had before (jobs of an earlier version, still in Redis, are run by the same handler). */
  formerNames?: readonly string[];
  schema: S;
  /** Deterministic job id: the same work is never queued twice while its job exists. */
  jobId: (data: z.output<S>) => string;
  options: JobsOptions;
}

const defineJob = <S extends z.ZodType, Q extends QueueName>(def: JobDefinition<S, Q>) => def;

const requestId = z.string().max(200).optional();

// Completed jobs are kept briefly for inspection; failed ones long enough for an operator to replay them.
const keep = { removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: { age: 14 * 24 * 3600, count: 50_000 } };

export const jobs = {
  /**
   * A stored Flovi delivery is waiting: drain the inbox (pipeline/flovi/inbox.ts). The drain applies every
   * waiting delivery in receipt order, so this job may find its own already applied by another; a failed
   * drain is retried, and the rows stay `received` (the inbound sweep drains too) whatever happens to the job.
   */
  processFloviDelivery: defineJob({
    queue: "flovi-events",
    name: "process-delivery",
    schema: renamed(z.object({ inboundDeliveryId: z.uuid(), requestId }), "deliveryId", "inboundDeliveryId"),
    jobId: (d) => `flovi-${d.inboundDeliveryId}`,
    options: { attempts: 10, backoff: { type: "exponential", delay: 1_000 }, ...keep },
  }),
  /** Drain the Flovi inbox on a schedule: deliveries whose job was never queued (Redis was down at the door). */
  sweepInbound: defineJob({
    queue: "maintenance",
    name: "sweep-inbound",
    schema: z.object({}),
    jobId: () => "sweep-inbound",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  /** Give committed outbox events their log position and fan them out to subscriptions. */
  relayOutbox: defineJob({
    queue: "maintenance",
    name: "relay-outbox",
    schema: z.object({}),
    jobId: () => "relay-outbox",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  /** Look up silent reservations in Flovi's API. */
  reconcileReservations: defineJob({
    queue: "maintenance",
    name: "reconcile-reservations",
    schema: z.object({}),
    jobId: () => "reconcile-reservations",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  /** Fetch a reservation's details from Flovi's Partner API once, after its first report (pipeline/flovi/enrich.ts). */
  enrichReservation: defineJob({
    queue: "maintenance",
    name: "enrich-reservation",
    schema: z.object({ reservationId: z.string().min(1).max(200) }),
    jobId: (d) => `enrich-${d.reservationId}`,
    options: { attempts: 6, backoff: { type: "exponential", delay: 30_000 }, removeOnComplete: true, removeOnFail: { count: 1000 } },
  }),
  /** Emit reservation.final_costs_overdue for reservations sealed too long without final costs. */
  flagOverdueFinalCosts: defineJob({
    queue: "maintenance",
    name: "flag-overdue-final-costs",
    schema: z.object({}),
    jobId: () => "flag-overdue-final-costs",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  /** Remove what is past its retention, in small batches (maintenance/prune.ts). */
  pruneStorage: defineJob({
    queue: "maintenance",
    name: "prune-storage",
    schema: z.object({}),
    jobId: () => "prune-storage",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  /** Claim due MFB orders and queue one poll each. */
  sweepMfb: defineJob({
    queue: "maintenance",
    name: "sweep-mfb",
    schema: z.object({}),
    jobId: () => "sweep-mfb",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  sweepGreenflow: defineJob({
    queue: "maintenance",
    name: "sweep-greenflow",
    schema: z.object({}),
    jobId: () => "sweep-greenflow",
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
  }),
  /**
   * Poll one MFB order. Failures are handled by the item's own backoff (next_poll_at), not by BullMQ
   * retries, so the job is removed when it ends and the next claim can queue the same id again.
   */
  pollMfbOrder: defineJob({
    queue: "mfb-polls",
    name: "poll-order",
    schema: z.object({ orderId: z.uuid() }),
    jobId: (d) => `mfb-${d.orderId}`,
    options: { attempts: 1, removeOnComplete: true, removeOnFail: true },
  }),
  pollGreenflowBooking: defineJob({
    queue: "greenflow-polls",
    name: "poll-booking",
    schema: z.object({ bookingCode: z.string().min(1).max(64) }),
    jobId: (d) => `gf-${Buffer.from(d.bookingCode).toString("base64url")}`,
    options: { attempts: 1, removeOnComplete: true, removeOnFail: true },
  }),
  /**
   * A delivery that failed for good, parked as a failed job so that operators find and replay it where they
   * replay every other failure (the admin API, the CLI, Bull Board). Attempts themselves never run as jobs
   * (delivery/pump.ts). Its first run fails it at once (marking it `parked`); retrying the failed job sends
   * the delivery again (its schedule starts over, its webhook-id stays the event id).
   */
  parkDelivery: defineJob({
    queue: "webhook-deliveries",
    name: "parked-delivery",
    // Its name until 2026-12: parked jobs of then are still found, retried and removed.
    formerNames: ["deliver"],
    schema: renamed(
      z.object({
        webhookDeliveryId: z.uuid(),
        requestId,
        attempt: z.number().int().min(1).optional(),
        parked: z.boolean().optional(),
        reason: z.string().max(2000).optional(),
      }),
      "deliveryId",
      "webhookDeliveryId",
    ),
    // One job per failure: a delivery re-sent from the console and failing again is parked again.
    jobId: (d) => (d.attempt ? `dlv-${d.webhookDeliveryId}-${d.attempt}` : `dlv-${d.webhookDeliveryId}`),
    options: { attempts: 1, ...keep },
  }),
  // biome-ignore lint/suspicious/noExplicitAny: each definition has its own schema; `jobId` takes that schema's data, so only `any` admits them all
} satisfies Record<string, JobDefinition<any>>;

export type JobKey = keyof typeof jobs;
export type JobData<K extends JobKey> = z.output<(typeof jobs)[K]["schema"]>;

/** The catalog keys of one queue's jobs. */
export type JobsOf<Q extends QueueName> = { [K in JobKey]: (typeof jobs)[K]["queue"] extends Q ? K : never }[JobKey];

export function jobKeyByName(queue: QueueName, name: string): JobKey | undefined {
  return (Object.keys(jobs) as JobKey[]).find((key) => {
    const job: JobDefinition = jobs[key];
    return job.queue === queue && (job.name === name || (job.formerNames ?? []).includes(name));
  });
}
