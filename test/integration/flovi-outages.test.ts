import { afterAll, describe, expect, it } from "vitest";
import type { LocalServer } from "../../scripts/lib/local-services.js";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { privatePostgres, privateRedis } from "../helpers/servers.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

describe("Redis down at the door", () => {
  it("still answers 202 (stored in Postgres), and the sweeper enqueues it once Redis is back", async () => {
    const redis: LocalServer = await privateRedis();
    const ctx: TestContext = await createTestContext({ REDIS_URL: redis.url });
    cleanup.push(
      () => redis.stop(),
      () => ctx.close(),
    );

    await redis.stop();
    // The producer connection has no offline queue: a command fails at once instead of waiting for Redis.
    expect(ctx.redis.options.enableOfflineQueue).toBe(false);
    const res = await postFlovi(ctx.app, statusChange("created", "r-redis-down"));
    expect(res.status).toBe(202);
    const row = await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } });
    expect(row.status).toBe("received");

    await redis.start();
    await ctx.startWorker();
    const reservation = await eventually(() => ctx.prisma.reservation.findUnique({ where: { id: "r-redis-down" } }), 20_000, "processed after Redis returns");
    expect(reservation.state).toBe("created");
    expect((await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } })).status).toBe("processed");
  });
});

describe("Postgres down at the door", () => {
  it("answers 503 with Retry-After and stores nothing, then recovers", async () => {
    const { server, databaseUrl } = await privatePostgres();
    const ctx = await createTestContext({ DATABASE_URL: databaseUrl });
    cleanup.push(
      () => server.stop(),
      () => ctx.close(),
    );

    await server.stop();
    const body = statusChange("created", "r-pg-down");
    const res = await postFlovi(ctx.app, body);
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.body.error).toBe("storage_unavailable");
    expect(await ctx.queues.get("flovi-events").count()).toBe(0);

    await server.start();
    const retried = await eventually(
      async () => {
        const r = await postFlovi(ctx.app, body);
        return r.status === 202 ? r : undefined;
      },
      15_000,
      "202 after Postgres returns",
    );
    expect(retried.body.duplicate).toBe(false); // the 503 stored nothing
  });
});
