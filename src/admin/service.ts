// Operator actions, shared by the admin HTTP API and the admin CLI. Each returns an outcome the caller
// translates (HTTP status or exit code), and every mutating action writes an audit row.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";
import { resumeProvider } from "../polling/schedule.js";
import { applyStoredDelivery } from "../providers/flovi/inbox.js";
import { QUEUE_NAMES, type QueueName } from "../queues/catalog.js";
import type { Queues } from "../queues/queues.js";

export interface AdminDeps {
  db: Database;
  queues: Queues;
  log: Logger;
  /** Attempts for a re-sent delivery (the retry schedule's length). */
  deliveryAttempts: number;
}

export type NotFound = { kind: "not_found"; what: string };

const STATES = ["waiting", "active", "delayed", "failed", "completed", "prioritized", "waiting-children"] as const;

export function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}

export async function audit(deps: Pick<AdminDeps, "db" | "log">, actor: string, action: string, target: string | null, details: Record<string, unknown> = {}) {
  await deps.db.prisma.auditLog.create({ data: { actor, action, target, details: details as Prisma.InputJsonValue } });
  deps.log.info({ audit: { actor, action, target, ...details } }, "admin action");
}

export async function queueOverview(deps: Pick<AdminDeps, "queues">) {
  return Promise.all(
    deps.queues.all().map(async (queue) => ({ name: queue.name, counts: await queue.getJobCounts(...STATES) })),
  );
}

const STACK_LINES = 8;

export async function failedJobs(deps: Pick<AdminDeps, "queues">, queueName: string, start: number, limit: number) {
  if (!isQueueName(queueName)) return { kind: "not_found", what: `queue ${queueName}` } as const;
  const queue = deps.queues.get(queueName);
  const [jobs, total] = await Promise.all([queue.getFailed(start, start + limit - 1), queue.getFailedCount()]);
  return {
    kind: "ok",
    total,
    start,
    jobs: jobs.map((job) => ({
      id: job.id,
      name: job.name,
      data: job.data,
      failedReason: job.failedReason,
      stacktrace: (job.stacktrace?.at(-1) ?? "").split("\n").slice(0, STACK_LINES),
      attemptsMade: job.attemptsMade,
      attempts: job.opts.attempts ?? 1,
      createdAt: new Date(job.timestamp).toISOString(),
      processedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    })),
  } as const;
}

export async function retryJob(deps: AdminDeps, actor: string, queueName: string, jobId: string) {
  if (!isQueueName(queueName)) return { kind: "not_found", what: `queue ${queueName}` } as const;
  const job = await deps.queues.get(queueName).getJob(jobId);
  if (!job) return { kind: "not_found", what: `job ${jobId} in ${queueName}` } as const;
  if (!(await job.isFailed())) return { kind: "not_failed", state: await job.getState() } as const;
  await job.retry("failed", { resetAttemptsMade: true });
  await audit(deps, actor, "job.retry", `${queueName}/${jobId}`);
  return { kind: "retried", jobId } as const;
}

export async function removeJob(deps: AdminDeps, actor: string, queueName: string, jobId: string) {
  if (!isQueueName(queueName)) return { kind: "not_found", what: `queue ${queueName}` } as const;
  const job = await deps.queues.get(queueName).getJob(jobId);
  if (!job) return { kind: "not_found", what: `job ${jobId} in ${queueName}` } as const;
  if (!(await job.isFailed())) return { kind: "not_failed", state: await job.getState() } as const;
  await job.remove();
  await audit(deps, actor, "job.remove", `${queueName}/${jobId}`);
  return { kind: "removed", jobId } as const;
}

export interface FailedFilter {
  name?: string;
  failedReasonContains?: string;
  /** Only jobs that failed at or after this time. */
  since?: Date;
}

/** Retries every failed job of a queue, or those matching the filter. */
export async function retryFailed(deps: AdminDeps, actor: string, queueName: string, filter: FailedFilter) {
  if (!isQueueName(queueName)) return { kind: "not_found", what: `queue ${queueName}` } as const;
  const queue = deps.queues.get(queueName);
  const page = 500;
  const matching: string[] = [];
  for (let start = 0; ; start += page) {
    const jobs = await queue.getFailed(start, start + page - 1);
    for (const job of jobs) {
      if (filter.name && job.name !== filter.name) continue;
      if (filter.failedReasonContains && !job.failedReason?.includes(filter.failedReasonContains)) continue;
      if (filter.since && (job.finishedOn ?? 0) < filter.since.getTime()) continue;
      if (job.id) matching.push(job.id);
    }
    if (jobs.length < page) break;
  }
  let retried = 0;
  for (const id of matching) {
    const job = await queue.getJob(id);
    if (job && (await job.isFailed())) {
      await job.retry("failed", { resetAttemptsMade: true });
      retried += 1;
    }
  }
  await audit(deps, actor, "queue.retry-failed", queueName, { filter: { ...filter, since: filter.since?.toISOString() }, retried });
  return { kind: "retried", retried } as const;
}

/** Re-processes a stored inbound delivery under the usual idempotency rules; an applied one stays applied. */
export async function replayWebhook(deps: AdminDeps, actor: string, deliveryId: string) {
  const result = await applyStoredDelivery({ db: deps.db }, deliveryId, { force: true });
  if (result.kind === "not_found") return { kind: "not_found", what: `inbound delivery ${deliveryId}` } as const;
  if (result.kind === "applied" && result.deliveries.length > 0) {
    // The stranded-delivery sweep would get there too if this enqueue fails.
    await deps.queues
      .enqueueMany("deliverWebhook", result.deliveries.map((d) => ({ deliveryId: d.deliveryId })), { attempts: deps.deliveryAttempts })
      .catch((error: unknown) => deps.log.warn({ err: error }, "could not queue the replay's deliveries"));
  }
  await audit(deps, actor, "webhook.replay", deliveryId, { result: result.kind, outcome: "outcome" in result ? result.outcome : undefined });
  return {
    kind: "replayed",
    result: result.kind,
    ...(result.kind === "applied" ? { outcome: result.outcome, events: result.events.map((e) => e.id) } : {}),
    ...(result.kind === "already_done" ? { status: result.status, events: [] } : {}),
    ...(result.kind === "rejected" ? { reason: result.reason, events: [] } : {}),
  } as const;
}

export async function listInbound(deps: Pick<AdminDeps, "db">, opts: { status?: string; limit: number; before?: Date }) {
  const rows = await deps.db.prisma.inboundDelivery.findMany({
    where: { ...(opts.status ? { status: opts.status } : {}), ...(opts.before ? { receivedAt: { lt: opts.before } } : {}) },
    orderBy: { receivedAt: "desc" },
    take: opts.limit,
    select: { id: true, provider: true, status: true, statusReason: true, receivedAt: true, processedAt: true, processCount: true, bodyDigest: true, requestId: true, rawBody: true },
  });
  return rows.map(({ rawBody, ...row }) => ({ ...row, bodyBytes: rawBody.length }));
}

async function resend(deps: AdminDeps, deliveryIds: string[], tag: string) {
  await deps.db.prisma.webhookDelivery.updateMany({
    where: { id: { in: deliveryIds } },
    data: { status: "pending", nextAttemptAt: null, completedAt: null },
  });
  // A fresh job id per re-send (the original job may still exist as failed); webhook-id stays the event id.
  for (const deliveryId of deliveryIds) {
    await deps.queues.enqueue("deliverWebhook", { deliveryId }, { jobId: `dlv-${deliveryId}-${tag}`, attempts: deps.deliveryAttempts });
  }
}

export async function retryDelivery(deps: AdminDeps, actor: string, deliveryId: string) {
  const delivery = await deps.db.prisma.webhookDelivery.findFirst({ where: { id: deliveryId }, include: { subscription: true } }).catch(() => null);
  if (!delivery) return { kind: "not_found", what: `delivery ${deliveryId}` } as const;
  if (delivery.status === "pending") return { kind: "in_progress" } as const;
  if (delivery.subscription.status !== "active" || delivery.subscription.deletedAt) return { kind: "subscription_inactive" } as const;
  await resend(deps, [deliveryId], `r${Date.now()}`);
  await audit(deps, actor, "delivery.retry", deliveryId, { eventId: delivery.eventId, previousStatus: delivery.status });
  return { kind: "queued", deliveryId, eventId: delivery.eventId } as const;
}

/** Svix's "recover": re-send every failed delivery of a subscription since a time. */
export async function recoverSubscription(deps: AdminDeps, actor: string, subscriptionId: string, since: Date) {
  const subscription = await deps.db.prisma.subscription.findFirst({ where: { id: subscriptionId, deletedAt: null } }).catch(() => null);
  if (!subscription) return { kind: "not_found", what: `subscription ${subscriptionId}` } as const;
  if (subscription.status !== "active") return { kind: "subscription_inactive" } as const;
  const failed = await deps.db.prisma.webhookDelivery.findMany({
    where: { subscriptionId, status: "failed", createdAt: { gte: since } },
    select: { id: true },
    orderBy: { createdAt: "asc" },
  });
  await resend(deps, failed.map((d) => d.id), `recover${Date.now()}`);
  await audit(deps, actor, "subscription.recover", subscriptionId, { since: since.toISOString(), requeued: failed.length });
  return { kind: "queued", requeued: failed.length } as const;
}

export const POLLED_PROVIDERS = ["mfb", "greenflow"] as const;

/** Ends a provider-wide pause (after a 401) once the credentials are fixed, instead of waiting it out. */
export async function resumeProviderPolling(deps: Pick<AdminDeps, "db" | "log">, actor: string, provider: string) {
  if (!(POLLED_PROVIDERS as readonly string[]).includes(provider)) return { kind: "not_found", what: `provider ${provider}` } as const;
  const before = await deps.db.prisma.providerState.findUnique({ where: { provider } });
  await resumeProvider(deps.db, provider);
  // Items parked until the pause's end are due again now.
  const table = provider === "mfb" ? "mfb_orders" : "greenflow_bookings";
  const { rowCount } = await deps.db.pool.query(`UPDATE ${table} SET next_poll_at = now() WHERE active AND next_poll_at > now()`);
  await audit(deps, actor, "provider.resume", provider, { pausedUntil: before?.pausedUntil?.toISOString() ?? null, rescheduled: rowCount ?? 0 });
  return { kind: "resumed", provider, rescheduled: rowCount ?? 0 } as const;
}
