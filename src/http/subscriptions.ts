import { type Request, Router } from "express";
import type { RouteDeps } from "./deps.js";
import * as subscriptions from "../services/subscriptions.js";
import { subscriptionChange, subscriptionInput, subscriptionView } from "../services/subscriptions.js";
import { sendTestEvent } from "../services/test-event.js";
import { uncovered } from "../domain/access.js";
import { recoverRoute, retryDeliveryRoute } from "./admin.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";
import { cursorOf, deliverySearchQuery } from "../services/delivery-search.js";
import { replayInput, replaySettings, replayStatus, requestReplay } from "../services/replays.js";

/**
 * A consumer's token (docs/security.md, "Consumers") sees its own subscriptions only: another's is a 404 (no
 * enumeration), and it subscribes to the event types it is allowed, no more (403 event_type_not_allowed).
 */
function allowedTypes(req: Request, requested: string[] | undefined) {
  const consumer = req.principal?.consumer;
  const outside = consumer && requested ? uncovered(consumer.eventTypes, requested) : [];
  if (outside.length > 0)
    throw new HttpError(
      403,
      "event_type_not_allowed",
      `this consumer may subscribe to ${consumer!.eventTypes.join(", ")}; not to ${outside.join(", ")} (an admin can widen its event types)`,
    );
}

export function subscriptionRoutes(deps: Pick<RouteDeps, "db" | "config" | "log" | "queues" | "subscriptionService">): Router {
  const router = Router();
  const svc = deps.subscriptionService;
  const adminSvc = { db: deps.db, queues: deps.queues, log: deps.log };
  const actor = (req: { actor?: string }) => req.actor ?? "admin";
  const notFound = (id: string) => new HttpError(404, "subscription_not_found", `no subscription ${id}`);

  // Every route with a subscription id: a consumer's token reaches only its own.
  router.param("id", async (req, _res, next, id: string) => {
    const consumer = req.principal?.consumer;
    if (!consumer) return next();
    try {
      next((await subscriptions.belongsTo(svc, id, consumer.id)) ? undefined : notFound(id));
    } catch (error) {
      next(error);
    }
  });

  router.post("/subscriptions", async (req, res) => {
    const input = parseInput(subscriptionInput, req.body);
    allowedTypes(req, input.eventTypes);
    const result = await subscriptions.create(svc, actor(req), input, req.principal?.consumer?.id ?? null);
    if (result.kind === "invalid_target") throw new HttpError(400, "target_not_allowed", result.reason);
    if (result.kind === "duplicate") {
      throw new HttpError(
        409,
        "duplicate_subscription",
        `subscription ${result.existing.id} already sends ${result.existing.eventTypes.join(", ")} to this URL (its receiver verifies with that ` +
          `subscription's secret): change it with PATCH /subscriptions/${result.existing.id}, or send "allowDuplicate": true to add a second endpoint ` +
          `with a secret of its own`,
        { existing: subscriptionView(result.existing) },
      );
    }
    // The only response that ever shows the secret.
    res.status(201).json({ ...subscriptionView(result.subscription), secret: result.subscription.secret });
  });

  router.get("/subscriptions", async (req, res) => {
    res.json({ data: (await subscriptions.list(svc, req.principal?.consumer?.id)).map(subscriptionView) });
  });

  router.get("/subscriptions/:id", async (req, res) => {
    const found = await subscriptions.detail(svc, req.params.id);
    if (!found) throw notFound(req.params.id);
    res.json({ ...subscriptionView(found.subscription), deliveries: found.counts, lane: found.lane });
  });

  router.patch("/subscriptions/:id", async (req, res) => {
    const input = parseInput(subscriptionChange, req.body);
    allowedTypes(req, input.eventTypes);
    const updated = await subscriptions.change(svc, actor(req), req.params.id, input);
    if (!updated) throw notFound(req.params.id);
    res.json(subscriptionView(updated));
  });

  router.delete("/subscriptions/:id", async (req, res) => {
    if (!(await subscriptions.remove(svc, actor(req), req.params.id))) throw notFound(req.params.id);
    res.status(204).end();
  });

  router.post("/subscriptions/:id/rotate-secret", async (req, res) => {
    const rotated = await subscriptions.rotate(svc, actor(req), req.params.id, deps.config.SECRET_ROTATION_GRACE_MS);
    if (!rotated) throw notFound(req.params.id);
    res.json({ ...subscriptionView(rotated.subscription), secret: rotated.secret });
  });

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    router.post(`/subscriptions/:id/${action}`, async (req, res) => {
      const updated = await subscriptions.setEnabled(svc, actor(req), req.params.id, enabled);
      if (!updated) throw notFound(req.params.id);
      res.json(subscriptionView(updated));
    });
  }

  // A signed hub.test to this endpoint alone; the answer is the attempt's outcome (200 whatever the endpoint said).
  router.post("/subscriptions/:id/test", async (req, res) => {
    const outcome = await sendTestEvent({ ...svc, timeoutMs: deps.config.DELIVERY_TIMEOUT_MS }, actor(req), req.params.id);
    if (!outcome) throw notFound(req.params.id);
    res.json(outcome);
  });

  router.get("/subscriptions/:id/deliveries", async (req, res) => {
    const search = parseInput(deliverySearchQuery, req.query, "query");
    const rows = await subscriptions.deliveries(svc, req.params.id, search);
    if (!rows) throw notFound(req.params.id);
    // A full page may have more behind it: `nextCursor` continues the same search.
    const last = rows.length === search.limit ? rows.at(-1) : undefined;
    res.json({ data: rows.map(({ subscriptionId: _, ...d }) => d), nextCursor: last ? cursorOf(last) : null });
  });

  // A consumer re-sends its own deliveries and recovers its own subscriptions (operators may use these too).
  router.post("/subscriptions/:id/deliveries/:deliveryId/retry", async (req, res) => {
    await retryDeliveryRoute(adminSvc, actor(req), req.params.deliveryId, req.body, res, req.params.id);
  });
  router.post("/subscriptions/:id/recover", async (req, res) => {
    await recoverRoute(adminSvc, actor(req), req.params.id, req.body, res);
  });

  // Replay by time: the window's events again, as deliveries of their own (docs/delivery.md, "Replaying a window").
  router.post("/subscriptions/:id/replay", async (req, res) => {
    const input = parseInput(replayInput, req.body);
    const result = await requestReplay({ ...svc, ...replaySettings(deps.config) }, actor(req), req.params.id, input);
    if (result.kind === "not_found") throw notFound(req.params.id);
    if (result.kind === "subscription_inactive") throw new HttpError(409, "subscription_inactive", "enable the subscription first");
    if (result.kind === "past_retention")
      throw new HttpError(
        400,
        "window_past_retention",
        `events are kept ${Math.round(deps.config.RETENTION_EVENTS_MS / 86_400_000)} days: since may be ${result.earliest.toISOString()} at the earliest` +
          (result.oldestKept ? ` (the oldest event kept was written at ${result.oldestKept.toISOString()})` : " (no event is kept)"),
        { earliest: result.earliest.toISOString(), oldestKept: result.oldestKept?.toISOString() ?? null },
      );
    res.status(202).json({ id: result.id, events: result.events });
  });
  router.get("/subscriptions/:id/replays/:replayId", async (req, res) => {
    const status = await replayStatus(svc.db, req.params.id, req.params.replayId);
    if (!status) throw new HttpError(404, "replay_not_found", `no replay ${req.params.replayId} of subscription ${req.params.id}`);
    res.json(status);
  });
  return router;
}
