import { Router } from "express";
import type { Database } from "../db/client.js";
import { pingRedis, type RedisClient } from "../queues/redis.js";
import type { Queues } from "../queues/queues.js";
import { withTimeout } from "../lib/timeout.js";
import type { Metrics } from "../observability/metrics.js";
import { weakSecrets, type Config } from "../config/env.js";

export function healthRoutes(deps: { db: Database; redis: RedisClient; metrics: Metrics; queues: Queues; config: Pick<Config, "FLOVI_WEBHOOK_SECRET"> }): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (req, res) => {
    // Until its pools are open and its paths warm (runtime.ts), a starting process is not ready yet.
    if (req.app.locals.warming === true) {
      res.status(503).json({ status: "starting", checks: {}, failing: ["warming_up"], warnings: [] });
      return;
    }
    const [postgres, redis] = await Promise.allSettled([
      deps.db.ping(1_500),
      pingRedis(deps.redis, 1_500),
    ]);
    const checks = {
      postgres: postgres.status === "fulfilled" ? "ok" : "unavailable",
      redis: redis.status === "fulfilled" ? "ok" : "unavailable",
    };
    const failing = Object.entries(checks).filter(([, v]) => v !== "ok").map(([k]) => k);
    // Not a failure (the service works), but an operator must see it.
    const warnings = weakSecrets(deps.config) > 0 ? ["weak_webhook_secret"] : [];
    res.status(failing.length === 0 ? 200 : 503).json({ status: failing.length === 0 ? "ok" : "unavailable", checks, failing, warnings });
  });
  router.get("/metrics", async (_req, res) => {
    // Queue depth per queue and state, read at scrape time (skipped, not failed, while Redis is away).
    await Promise.all(
      deps.queues.all().map(async (queue) => {
        const counts = await withTimeout(queue.getJobCounts("waiting", "active", "delayed", "failed", "completed", "prioritized"), 1_000, "timeout").catch(() => null);
        for (const [state, value] of Object.entries(counts ?? {})) deps.metrics.queueJobs.set({ queue: queue.name, state }, value);
      }),
    );
    res.setHeader("content-type", deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });
  return router;
}
