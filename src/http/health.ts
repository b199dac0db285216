import { Router } from "express";
import type { Redis } from "ioredis";
import type { Database } from "../db/client.js";
import { pingRedis } from "../queues/redis.js";
import type { Metrics } from "../observability/metrics.js";

export function healthRoutes(deps: { db: Database; redis: Redis; metrics: Metrics }): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const [postgres, redis] = await Promise.allSettled([
      deps.db.ping(1_500),
      pingRedis(deps.redis, 1_500),
    ]);
    const checks = {
      postgres: postgres.status === "fulfilled" ? "ok" : "unavailable",
      redis: redis.status === "fulfilled" ? "ok" : "unavailable",
    };
    const failing = Object.entries(checks).filter(([, v]) => v !== "ok").map(([k]) => k);
    res.status(failing.length === 0 ? 200 : 503).json({ status: failing.length === 0 ? "ok" : "unavailable", checks, failing });
  });
  router.get("/metrics", async (_req, res) => {
    res.setHeader("content-type", deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });
  return router;
}
