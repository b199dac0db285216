import { Router } from "express";
import type { Database } from "../db/client.js";
import { pingRedis, type RedisClient } from "../queues/redis.js";
import type { Queues } from "../queues/queues.js";
import { withTimeout } from "../lib/timeout.js";
import type { Metrics } from "../observability/metrics.js";
import { weakSecrets } from "../config/env.js";
import { recordPipelineMetrics, type GaugeConfig } from "../services/pipeline-metrics.js";

export function healthRoutes(deps: { db: Database; redis: RedisClient; metrics: Metrics; queues: Queues; config: GaugeConfig; role: string }): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  // Postgres is what the hub cannot work without; without Redis it still accepts webhooks, applies and delivers
  // them (docs/operations.md, "When Redis or Postgres goes away"), so Redis away is "degraded", not unready:
  // a load balancer keeps sending webhooks, and the alerting rules watch hub_dependency_up for it.
  async function readiness() {
    const [postgres, redis] = await Promise.allSettled([deps.db.ping(1_500), pingRedis(deps.redis, 1_500)]);
    const checks = {
      postgres: postgres.status === "fulfilled" ? "ok" : "unavailable",
      redis: redis.status === "fulfilled" ? "ok" : "unavailable",
    };
    return {
      checks,
      failing: checks.postgres === "ok" ? [] : ["postgres"],
      degraded: checks.redis === "ok" ? [] : ["redis"],
    };
  }

  router.get("/readyz", async (req, res) => {
    // Until its pools are open and its paths warm (runtime.ts), a starting process is not ready yet.
    if (req.app.locals.warming === true) {
      res.status(503).json({ status: "starting", checks: {}, failing: ["warming_up"], degraded: [], warnings: [] });
      return;
    }
    const { checks, failing, degraded } = await readiness();
    // Not a failure (the service works), but an operator must see it.
    const warnings = weakSecrets(deps.config) > 0 ? ["weak_webhook_secret"] : [];
    const status = failing.length > 0 ? "unavailable" : degraded.length > 0 ? "degraded" : "ok";
    res.status(failing.length === 0 ? 200 : 503).json({ status, checks, failing, degraded, warnings });
  });
  router.get("/metrics", async (req, res) => {
    // Read at scrape time (each skipped, not failed, while its store is away): queue depth per queue and
    // state, what the alerting rules watch in the database, and this process's readiness.
    await Promise.all([
      ...deps.queues.all().map(async (queue) => {
        const counts = await withTimeout(queue.getJobCounts("waiting", "active", "delayed", "failed", "completed", "prioritized"), 1_000, "timeout").catch(
          () => null,
        );
        for (const [state, value] of Object.entries(counts ?? {})) deps.metrics.queueJobs.set({ queue: queue.name, state }, value);
      }),
      // The database's view is the same from every process: the api processes report it, workers do not
      // repeat the statement on every scrape.
      ...(deps.role === "api" ? [withTimeout(recordPipelineMetrics(deps.db, deps.metrics, deps.config), 1_500, "timeout").catch(() => undefined)] : []),
      readiness().then(({ failing }) => deps.metrics.ready.set({ role: deps.role }, failing.length === 0 && req.app.locals.warming !== true ? 1 : 0)),
    ]);
    res.setHeader("content-type", deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });
  return router;
}
