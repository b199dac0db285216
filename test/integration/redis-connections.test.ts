// The Redis settings a deployment uses beyond a bare node: a password in REDIS_URL, TLS with a private CA
// (rediss:// + REDIS_TLS_CA_FILE), and Sentinel and Cluster with passwords (REDIS_PASSWORD, and the sentinels'
// own REDIS_SENTINEL_PASSWORD). Each is checked the way the service uses it: the api's readiness, and a
// webhook accepted, queued and applied by a worker.
import { mkdtempSync } from "node:fs";
import path from "node:path";
import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { loadConfig } from "../../src/config/env.js";
import { redisSettings } from "../../src/config/redis-settings.js";
import { createRedis, pingRedis } from "../../src/queues/redis.js";
import { startRedisCluster, startRedisSentinel, startSecuredRedis, tlsFiles } from "../../scripts/lib/topologies.js";
import { createTestContext, eventually, type TestEnv } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";

const dir = () => mkdtempSync(path.join(inject("scratchDir"), "redis-conn-"));
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});

/**
 * Whether these settings connect. A setting that should work gets 10 s: a Cluster just created (on a loaded CI
 * box) can take seconds to be ready, which is not what is asked. One that should fail fails at 1.5 s.
 */
async function ping(env: TestEnv, timeoutMs = 1_500): Promise<string> {
  const config = loadConfig({ DATABASE_URL: "postgresql://unused@127.0.0.1/x", ...env });
  const redis = createRedis(redisSettings(config), "producer");
  try {
    await pingRedis(redis, timeoutMs);
    return "ok";
  } catch (error) {
    return (error as Error).message;
  } finally {
    redis.disconnect();
  }
}

/** The whole path on these settings: /readyz, then a webhook accepted, queued and applied by a worker. */
async function servesWebhooks(env: TestEnv) {
  const ctx = await createTestContext(env);
  try {
    await ctx.startWorker();
    const ready = await request(ctx.app).get("/readyz");
    expect(ready.status, JSON.stringify(ready.body)).toBe(200);
    const res = await postFlovi(ctx.app, statusChange("created", `conn-${Date.now()}`));
    expect(res.status).toBe(202);
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed", 15_000, "applied");
  } finally {
    await ctx.close();
  }
}

describe("Redis connections", () => {
  it("a password in REDIS_URL is used; without it Redis refuses", async () => {
    const { node, port } = await startSecuredRedis({ dataDir: dir(), password: "s3cret-pw" });
    stops.push(() => node.stop());
    expect(await ping({ REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}` }, 10_000)).toBe("ok");
    expect(await ping({ REDIS_URL: `redis://127.0.0.1:${port}` })).not.toBe("ok");
    await servesWebhooks({ REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}` });
  });

  it("rediss:// verifies the server against REDIS_TLS_CA_FILE; without that CA the connection is refused", async () => {
    const d = dir();
    const files = tlsFiles(path.join(d, "tls"));
    const { node, port } = await startSecuredRedis({ dataDir: d, tls: files });
    stops.push(() => node.stop());
    expect(await ping({ REDIS_URL: `rediss://127.0.0.1:${port}`, REDIS_TLS_CA_FILE: files.ca }, 10_000)).toBe("ok");
    expect(await ping({ REDIS_URL: `rediss://127.0.0.1:${port}` })).not.toBe("ok"); // a private CA is not trusted by default
    expect(await ping({ REDIS_URL: `redis://127.0.0.1:${port}` })).not.toBe("ok"); // plain text to a TLS port
    await servesWebhooks({ REDIS_URL: `rediss://127.0.0.1:${port}`, REDIS_TLS_CA_FILE: files.ca });
  });

  it("Sentinel with passwords on the data nodes and on the sentinels", async () => {
    const set = await startRedisSentinel({ dataDir: dir(), password: "data-pw", sentinelPassword: "sentinel-pw" });
    stops.push(() => set.stop());
    const env = { REDIS_SENTINELS: set.sentinelsEnv, REDIS_SENTINEL_MASTER: set.master, REDIS_PASSWORD: "data-pw", REDIS_SENTINEL_PASSWORD: "sentinel-pw" };
    expect(await ping(env, 10_000)).toBe("ok");
    expect(await ping({ ...env, REDIS_PASSWORD: "wrong" })).not.toBe("ok");
    await servesWebhooks(env);
  });

  it("Cluster with a password on every node", async () => {
    const cluster = await startRedisCluster({ dataDir: dir(), password: "cluster-pw" });
    stops.push(() => cluster.stop());
    const env = { REDIS_CLUSTER_NODES: cluster.nodesEnv, REDIS_PASSWORD: "cluster-pw" };
    expect(await ping(env, 10_000)).toBe("ok");
    await servesWebhooks(env);
  });
});
