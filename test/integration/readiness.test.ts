import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalServer } from "../../scripts/lib/local-services.js";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { privatePostgres, privateRedis } from "../helpers/servers.js";

let pg: LocalServer;
let redis: LocalServer;
let ctx: TestContext;

beforeAll(async () => {
  const [postgres, r] = await Promise.all([privatePostgres(), privateRedis()]);
  pg = postgres.server;
  redis = r;
  ctx = await createTestContext({ DATABASE_URL: postgres.databaseUrl, REDIS_URL: redis.url });
});
afterAll(async () => {
  await ctx.close();
  await Promise.all([pg.stop(), redis.stop()]);
});

const readyz = () => request(ctx.app).get("/readyz");

describe("health", () => {
  it("/healthz answers while dependencies are down", async () => {
    expect((await request(ctx.app).get("/healthz")).status).toBe(200);
  });

  it("/readyz is 200 with both dependencies up", async () => {
    const res = await readyz();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok", checks: { postgres: "ok", redis: "ok" }, failing: [], degraded: [], warnings: [] });
  });

  it("/readyz stays 200 while only Redis is stopped, saying degraded: redis (webhooks are still accepted), then ok", async () => {
    await redis.stop();
    const down = await readyz();
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ status: "degraded", failing: [], degraded: ["redis"], checks: { postgres: "ok", redis: "unavailable" } });
    await redis.start();
    await eventually(async () => (await readyz()).body.status === "ok", 15_000, "readyz back to ok");
  });

  it("/readyz flips to 503 naming postgres while Postgres is stopped, and back to 200", async () => {
    await pg.stop();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "unavailable", failing: ["postgres"] });
    await pg.start();
    await eventually(async () => (await readyz()).status === 200, 15_000, "readyz back to 200");
  });
});
