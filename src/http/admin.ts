// The admin API: inspect and replay failed work. Every mutating call writes an audit row.
import { Router, type RequestHandler, type Response } from "express";
import { z } from "zod";
import * as queueActions from "../services/queue-actions.js";
import * as admin from "../services/admin.js";
import type { AppDeps } from "./deps.js";
import { queueBoard } from "./queue-board.js";
import { HttpError } from "./errors.js";
import { retentionOverview } from "../services/read-model.js";
import { retentionSettings } from "../maintenance/prune.js";
import { parseInput } from "./validate.js";

const page = z.object({ start: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(500).default(50) });
const retryFailedBody = z.object({
  name: z.string().min(1).optional(),
  failedReasonContains: z.string().min(1).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
});
const inboundQuery = z.object({
  status: z.enum(["received", "processed", "ignored", "rejected", "failed"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.iso.datetime({ offset: true }).optional(),
});
/** A re-send's options: `force` sends again a delivery that already succeeded. */
const retryBody = z.object({ force: z.boolean().optional() }).strict();
const recoverBody = z.object({ since: z.iso.datetime({ offset: true }), includePending: z.boolean().optional() });

function orNotFound<T extends { kind: string }>(result: T): Exclude<T, { kind: "not_found" }> {
  if (result.kind === "not_found") throw new HttpError(404, "not_found", `no ${(result as unknown as admin.NotFound).what}`);
  return result as Exclude<T, { kind: "not_found" }>;
}

export function adminRoutes(deps: AppDeps, auth: RequestHandler): Router {
  const router = Router();
  const svc: admin.AdminDeps = { db: deps.db, queues: deps.queues, log: deps.log };
  const actor = (req: { actor?: string }) => req.actor ?? "admin";

  router.get("/admin/queues", async (_req, res) => {
    res.json({ data: await queueActions.queueOverview(svc) });
  });

  router.get("/admin/queues/:queue/failed", async (req, res) => {
    const q = parseInput(page, req.query, "query");
    const result = orNotFound(await queueActions.failedJobs(svc, req.params.queue, q.start, q.limit));
    res.json({ data: result.jobs, total: result.total, start: result.start, limit: q.limit });
  });

  router.post("/admin/queues/:queue/jobs/:jobId/retry", async (req, res) => {
    const result = orNotFound(await queueActions.retryJob(svc, actor(req), req.params.queue, req.params.jobId));
    if (result.kind === "not_failed") throw new HttpError(409, "job_not_failed", `job is ${result.state}, not failed`);
    res.json({ retried: result.jobId });
  });

  router.delete("/admin/queues/:queue/jobs/:jobId", async (req, res) => {
    const result = orNotFound(await queueActions.removeJob(svc, actor(req), req.params.queue, req.params.jobId));
    if (result.kind === "not_failed") throw new HttpError(409, "job_not_failed", `job is ${result.state}; only failed jobs can be removed`);
    res.json({ removed: result.jobId });
  });

  router.post("/admin/queues/:queue/retry-failed", async (req, res) => {
    const filter = parseInput(retryFailedBody, req.body);
    const result = orNotFound(
      await queueActions.retryFailed(svc, actor(req), req.params.queue, { ...filter, since: filter.since ? new Date(filter.since) : undefined }),
    );
    res.json({ retried: result.retried });
  });

  router.get("/admin/webhooks", async (req, res) => {
    const q = parseInput(inboundQuery, req.query, "query");
    res.json(await admin.inboundPage(svc, { status: q.status, limit: q.limit, before: q.before ? new Date(q.before) : undefined }));
  });

  router.post("/admin/webhooks/:id/replay", async (req, res) => {
    if (!z.uuid().safeParse(req.params.id).success) throw new HttpError(404, "not_found", `no inbound delivery ${req.params.id}`);
    const result = orNotFound(await admin.replayWebhook(svc, actor(req), req.params.id));
    res.json(result);
  });

  router.post("/admin/deliveries/:id/retry", async (req, res) => {
    await retryDeliveryRoute(svc, actor(req), req.params.id, req.body, res);
  });

  router.post("/admin/subscriptions/:id/recover", async (req, res) => {
    await recoverRoute(svc, actor(req), req.params.id, req.body, res);
  });

  router.get("/admin/retention", async (_req, res) => {
    const settings = retentionSettings(deps.config);
    const kept = await retentionOverview(deps.db);
    res.json({
      retentionDays: Object.fromEntries(Object.entries(settings).map(([k, ms]) => [k, ms / 86_400_000])),
      pruneIntervalMs: deps.config.RETENTION_PRUNE_INTERVAL_MS,
      ...kept,
    });
  });

  router.get("/admin/providers", async (_req, res) => {
    res.json({ data: await admin.providersOverview(svc, deps.config) });
  });

  router.post("/admin/providers/:provider/resume", async (req, res) => {
    res.json(orNotFound(await admin.resumeProviderPolling(svc, actor(req), req.params.provider)));
  });

  router.get("/admin/audit", async (req, res) => {
    const q = parseInput(page, req.query, "query");
    res.json(await admin.auditPage(svc, { start: q.start, limit: q.limit }));
  });

  router.use(queueBoard(deps, auth));

  return router;
}

/** POST …/retry of one delivery (also under /subscriptions/:id/deliveries, within that subscription). */
export async function retryDeliveryRoute(svc: admin.AdminDeps, actor: string, id: string, input: unknown, res: Response, subscriptionId?: string) {
  if (!z.uuid().safeParse(id).success) throw new HttpError(404, "not_found", `no delivery ${id}`);
  const body = parseInput(retryBody, input ?? {});
  const result = orNotFound(await admin.retryDelivery(svc, actor, id, { force: body.force, subscriptionId }));
  if (result.kind === "already_delivered")
    throw new HttpError(409, "already_delivered", 'this delivery already succeeded; send {"force": true} to send it again', {
      deliveredAt: result.deliveredAt?.toISOString() ?? null,
    });
  if (result.kind === "in_progress")
    throw new HttpError(409, "delivery_in_progress", "an attempt of this delivery is under way; its outcome decides what comes next");
  if (result.kind === "held")
    throw new HttpError(
      409,
      "delivery_held",
      "the subscription is in ordered mode and an earlier event of this subject is not delivered yet; it goes out right after that one",
    );
  if (result.kind === "subscription_inactive") throw new HttpError(409, "subscription_inactive", "enable the subscription first");
  res.status(202).json(result);
}

/** POST …/recover of one subscription: its failed deliveries since a time, sent again. */
export async function recoverRoute(svc: admin.AdminDeps, actor: string, id: string, input: unknown, res: Response) {
  const body = parseInput(recoverBody, input);
  const result = orNotFound(await admin.recoverSubscription(svc, actor, id, new Date(body.since), { includePending: body.includePending }));
  if (result.kind === "subscription_inactive") throw new HttpError(409, "subscription_inactive", "enable the subscription first");
  res.status(202).json({ requeued: result.requeued, sentNow: result.sentNow, inFlight: result.inFlight, notes: result.notes });
}
