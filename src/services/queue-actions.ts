// Operator actions on the queues (Redis): counts, failed jobs, retry and remove, one at a time or by filter.
// Each is audited before it acts (auditFirst); the admin HTTP API and the CLI call them.
import { appendAudit, type AuditEntry, logAudit } from "../db/audit.js";
import { jobKeyByName, QUEUE_NAMES, type QueueName } from "../queues/catalog.js";
import type { AdminDeps } from "./admin.js";
const STATES = ["waiting", "active", "delayed", "failed", "completed", "prioritized", "waiting-children"] as const;

function isQueueName(name: string): name is QueueName {
  return (QUEUE_NAMES as readonly string[]).includes(name);
}

/**
 * For actions on the queues (Redis, outside any transaction): the audit row is committed first, so an action
 * may fail after its row is written but never happens without one. Database changes use `audited`.
 */
async function auditFirst(deps: Pick<AdminDeps, "db" | "log">, entry: AuditEntry) {
  await appendAudit(deps.db, entry);
  logAudit(deps.log, entry);
}

export async function queueOverview(deps: Pick<AdminDeps, "queues">) {
  return Promise.all(deps.queues.all().map(async (queue) => ({ name: queue.name, counts: await queue.getJobCounts(...STATES) })));
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
  // A job's name and its former names are one job (parked deliveries were named `deliver` before).
  const wanted = filter.name ? jobKeyByName(queueName, filter.name) : undefined;
  const named = (name: string) => !filter.name || name === filter.name || (wanted !== undefined && jobKeyByName(queueName, name) === wanted);
  for (let start = 0; ; start += page) {
    const jobs = await queue.getFailed(start, start + page - 1);
    for (const job of jobs) {
      if (!named(job.name)) continue;
      if (filter.failedReasonContains && !job.failedReason?.includes(filter.failedReasonContains)) continue;
      if (filter.since && (job.finishedOn ?? 0) < filter.since.getTime()) continue;
      if (job.id) matching.push(job.id);
    }
    if (jobs.length < page) break;
  }
  await auditFirst(deps, {
    actor,
    action: "queue.retry-failed",
    target: queueName,
    details: { filter: { ...filter, since: filter.since?.toISOString() }, matching: matching.length },
  });
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
