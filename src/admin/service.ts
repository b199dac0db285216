// Operator actions, shared by the admin HTTP API and the admin CLI. Each returns an outcome the caller
// translates (HTTP status or exit code), and every mutating action writes an audit row.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { audited, logAudit, writeAudit, writeAuditSql, type AuditEntry } from "../db/audit.js";
import { applyStoredDelivery } from "../providers/flovi/inbox.js";
import { listInbound as listInboundRows } from "../db/inbound-deliveries.js";
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

/**
 * For actions on the queues (Redis, outside any transaction): the audit row is committed first, so an action
 * may fail after its row is written but never happens without one. Database changes use `audited`.
 */
export async function auditFirst(deps: Pick<AdminDeps, "db" | "log">, entry: AuditEntry) {
  await writeAudit(deps.db.prisma, entry);
  logAudit(deps.log, entry);
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
  await auditFirst(deps, { actor, action: "job.retry", target: `${queueName}/${jobId}` });
  await job.retry("failed", { resetAttemptsMade: true });
  return { kind: "retried", jobId } as const;
}

export async function removeJob(deps: AdminDeps, actor: string, queueName: string, jobId: string) {
  if (!isQueueName(queueName)) return { kind: "not_found", what: `queue ${queueName}` } as const;
  const job = await deps.queues.get(queueName).getJob(jobId);
  if (!job) return { kind: "not_found", what: `job ${jobId} in ${queueName}` } as const;
  if (!(await job.isFailed())) return { kind: "not_failed", state: await job.getState() } as const;
  await auditFirst(deps, { actor, action: "job.remove", target: `${queueName}/${jobId}` });
  await job.remove();
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
  await auditFirst(deps, { actor, action: "queue.retry-failed", target: queueName, details: { filter: { ...filter, since: filter.since?.toISOString() }, matching: matching.length } });
  let retried = 0;
  for (const id of matching) {
    const job = await queue.getJob(id);
    if (job && (await job.isFailed())) {
      await job.retry("failed", { resetAttemptsMade: true });
      retried += 1;
    }
  }
  return { kind: "retried", retried } as const;
}

/** Re-processes a stored inbound delivery under the usual idempotency rules; an applied one stays applied. */
export async function replayWebhook(deps: AdminDeps, actor: string, deliveryId: string) {
  const entry = (result: { kind: string; outcome?: string }): AuditEntry => ({ actor, action: "webhook.replay", target: deliveryId, details: { result: result.kind, outcome: result.outcome } });
  const result = await applyStoredDelivery({ db: deps.db }, deliveryId, {
    force: true,
    // Written in the replay's own transaction: the replay and its audit row commit together.
    audit: (sql, outcome) => writeAuditSql(sql, entry(outcome)),
  });
  if (result.kind === "not_found") return { kind: "not_found", what: `inbound delivery ${deliveryId}` } as const;
  logAudit(deps.log, entry({ kind: result.kind, outcome: "outcome" in result ? result.outcome : undefined }));
  if (result.kind === "applied" && result.deliveries.length > 0) {
    // The stranded-delivery sweep would get there too if this enqueue fails.
    await deps.queues
      .enqueueMany("deliverWebhook", result.deliveries.map((d) => ({ deliveryId: d.deliveryId })), { attempts: deps.deliveryAttempts })
      .catch((error: unknown) => deps.log.warn({ err: error }, "could not queue the replay's deliveries"));
  }
  return {
    kind: "replayed",
    result: result.kind,
    ...(result.kind === "applied" ? { outcome: result.outcome, events: result.events.map((e) => e.id) } : {}),
    ...(result.kind === "already_done" ? { status: result.status, events: [] } : {}),
    ...(result.kind === "rejected" ? { reason: result.reason, events: [] } : {}),
  } as const;
}

export function listInbound(deps: Pick<AdminDeps, "db">, opts: { status?: string; limit: number; before?: Date }) {
  return listInboundRows(deps.db, opts);
}

/** Marks the deliveries pending again and writes the audit row, in one transaction; then queues them. */
async function resend(deps: AdminDeps, deliveryIds: string[], tag: string, entry: AuditEntry) {
  await audited(deps.db, deps.log, async (tx) => {
    await tx.webhookDelivery.updateMany({ where: { id: { in: deliveryIds } }, data: { status: "pending", nextAttemptAt: null, completedAt: null } });
    return { result: null, audit: entry };
  });
  // A fresh job id per re-send (the original job may still exist as failed); webhook-id stays the event id.
  // Should this fail, the deliveries are pending and overdue: the stranded-delivery sweep queues them.
  for (const deliveryId of deliveryIds) {
    await deps.queues.enqueue("deliverWebhook", { deliveryId }, { jobId: `dlv-${deliveryId}-${tag}`, attempts: deps.deliveryAttempts });
  }
}

export async function retryDelivery(deps: AdminDeps, actor: string, deliveryId: string) {
  const delivery = await deps.db.prisma.webhookDelivery.findFirst({ where: { id: deliveryId }, include: { subscription: true } }).catch(() => null);
  if (!delivery) return { kind: "not_found", what: `delivery ${deliveryId}` } as const;
  if (delivery.status === "pending") return { kind: "in_progress" } as const;
  if (delivery.subscription.status !== "active" || delivery.subscription.deletedAt) return { kind: "subscription_inactive" } as const;
  await resend(deps, [deliveryId], `r${Date.now()}`, { actor, action: "delivery.retry", target: deliveryId, details: { eventId: delivery.eventId, previousStatus: delivery.status } });
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
  await resend(deps, failed.map((d) => d.id), `recover${Date.now()}`, {
    actor,
    action: "subscription.recover",
    target: subscriptionId,
    details: { since: since.toISOString(), requeued: failed.length },
  });
  return { kind: "queued", requeued: failed.length } as const;
}

export const POLLED_PROVIDERS = ["mfb", "greenflow"] as const;

/** Ends a provider-wide pause (after a 401) once the credentials are fixed, instead of waiting it out. */
export async function resumeProviderPolling(deps: Pick<AdminDeps, "db" | "log">, actor: string, provider: string) {
  if (!(POLLED_PROVIDERS as readonly string[]).includes(provider)) return { kind: "not_found", what: `provider ${provider}` } as const;
  const rescheduled = await audited(deps.db, deps.log, async (tx) => {
    const before = await tx.providerState.findUnique({ where: { provider } });
    await tx.providerState.upsert({ where: { provider }, create: { provider, pausedUntil: null, pauseReason: null }, update: { pausedUntil: null, pauseReason: null } });
    // Items parked until the pause's end are due again now.
    const parked = { active: true, nextPollAt: { gt: new Date() } };
    const now = new Date();
    const { count } =
      provider === "mfb"
        ? await tx.mfbOrder.updateMany({ where: parked, data: { nextPollAt: now } })
        : await tx.greenflowBooking.updateMany({ where: parked, data: { nextPollAt: now } });
    return { result: count, audit: { actor, action: "provider.resume", target: provider, details: { pausedUntil: before?.pausedUntil?.toISOString() ?? null, rescheduled: count } } };
  });
  return { kind: "resumed", provider, rescheduled } as const;
}
