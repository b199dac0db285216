import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../app.js";
import {
  createSubscription,
  deleteSubscription,
  findSubscription,
  rotateSecret,
  setSubscriptionEnabled,
  subscriptionInput,
  subscriptionView,
} from "../delivery/subscriptions.js";
import { audited } from "../db/audit.js";
import { targetPolicy } from "../delivery/settings.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

const deliveriesQuery = z.object({
  status: z.enum(["pending", "succeeded", "failed"]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function subscriptionRoutes(deps: Pick<AppDeps, "db" | "config" | "log">): Router {
  const entry = (req: { actor?: string }, action: string, target: string, details: Record<string, unknown> = {}) => ({ actor: req.actor ?? "admin", action, target, details });
  const router = Router();
  const policy = targetPolicy(deps.config);
  const notFound = (id: string) => new HttpError(404, "subscription_not_found", `no subscription ${id}`);

  router.post("/subscriptions", async (req, res) => {
    const input = parseInput(subscriptionInput, req.body);
    const result = await audited(deps.db, deps.log, async (tx) => {
      const created = await createSubscription(tx, policy, input);
      const audit = created.kind === "created" ? entry(req, "subscription.create", created.subscription.id, { url: input.url, eventTypes: input.eventTypes }) : null;
      return { result: created, audit };
    });
    if (result.kind === "invalid_target") throw new HttpError(400, "target_not_allowed", result.reason);
    // The only response that ever shows the secret.
    res.status(201).json({ ...subscriptionView(result.subscription), secret: result.subscription.secret });
  });

  router.get("/subscriptions", async (_req, res) => {
    const rows = await deps.db.prisma.subscription.findMany({ where: { deletedAt: null }, orderBy: { createdAt: "asc" } });
    res.json({ data: rows.map(subscriptionView) });
  });

  router.get("/subscriptions/:id", async (req, res) => {
    const subscription = await findSubscription(deps.db.prisma, req.params.id);
    if (!subscription) throw notFound(req.params.id);
    const counts = await deps.db.prisma.webhookDelivery.groupBy({ by: ["status"], where: { subscriptionId: subscription.id }, _count: true });
    res.json({ ...subscriptionView(subscription), deliveries: Object.fromEntries(counts.map((c) => [c.status, c._count])) });
  });

  router.delete("/subscriptions/:id", async (req, res) => {
    const deleted = await audited(deps.db, deps.log, async (tx) => {
      const done = await deleteSubscription(tx, req.params.id);
      return { result: done, audit: done ? entry(req, "subscription.delete", req.params.id) : null };
    });
    if (!deleted) throw notFound(req.params.id);
    res.status(204).end();
  });

  router.post("/subscriptions/:id/rotate-secret", async (req, res) => {
    const rotated = await audited(deps.db, deps.log, async (tx) => {
      const done = await rotateSecret(tx, req.params.id, deps.config.SECRET_ROTATION_GRACE_MS);
      return { result: done, audit: done ? entry(req, "subscription.rotate-secret", req.params.id) : null };
    });
    if (!rotated) throw notFound(req.params.id);
    res.json({ ...subscriptionView(rotated.subscription), secret: rotated.secret });
  });

  for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
    router.post(`/subscriptions/:id/${action}`, async (req, res) => {
      const updated = await audited(deps.db, deps.log, async (tx) => {
        const done = await setSubscriptionEnabled(tx, req.params.id, enabled);
        return { result: done, audit: done ? entry(req, `subscription.${action}`, req.params.id) : null };
      });
      if (!updated) throw notFound(req.params.id);
      res.json(subscriptionView(updated));
    });
  }

  router.get("/subscriptions/:id/deliveries", async (req, res) => {
    const subscription = await findSubscription(deps.db.prisma, req.params.id);
    if (!subscription) throw notFound(req.params.id);
    const query = parseInput(deliveriesQuery, req.query, "query");
    const rows = await deps.db.prisma.webhookDelivery.findMany({
      where: { subscriptionId: subscription.id, ...(query.status ? { status: query.status } : {}) },
      orderBy: { createdAt: "desc" },
      take: query.limit,
      include: { attemptLog: { orderBy: { id: "asc" } }, event: { select: { type: true, subject: true } } },
    });
    res.json({
      data: rows.map((d) => ({
        id: d.id,
        eventId: d.eventId,
        eventType: d.event.type,
        subject: d.event.subject,
        status: d.status,
        attempts: d.attempts,
        lastStatusCode: d.lastStatusCode,
        lastError: d.lastError,
        nextAttemptAt: d.nextAttemptAt,
        createdAt: d.createdAt,
        completedAt: d.completedAt,
        attemptLog: d.attemptLog.map((a) => ({
          attempt: a.attempt,
          attemptedAt: a.attemptedAt,
          durationMs: a.durationMs,
          statusCode: a.statusCode,
          error: a.error,
          responseExcerpt: a.responseExcerpt,
        })),
      })),
    });
  });
  return router;
}
