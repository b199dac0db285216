import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadMigrationConfig, preparedStatements } from "../../src/config/env.js";
import { describeRedis, redisSettings } from "../../src/config/redis-settings.js";
import { queuePrefix } from "../../src/queues/queues.js";

const base = { DATABASE_URL: "postgresql://u:p@127.0.0.1:5432/db", REDIS_URL: "redis://127.0.0.1:6379" };

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(base);
    expect(config.PORT).toBe(3000);
    expect(config.HOST).toBe("0.0.0.0");
    expect(config.LOG_LEVEL).toBe("info");
    expect(config.MFB_API_BASE_URL).toBe("https://test.myflyingbox.com/v2");
    expect(config.GREENFLOW_API_BASE_URL).toBe("https://greenflow.live/api/v1");
    expect(config.FLOVI_WEBHOOK_SECRET).toEqual([]);
    expect(config.ADMIN_TOKEN).toBeUndefined();
    expect(config.WEBHOOK_BODY_LIMIT_BYTES).toBe(256 * 1024);
    expect(config.QUEUE_PREFIX).toBe("hub");
  });

  it("caps the delivery retry schedule at the attempts the job catalog allows", () => {
    expect(loadConfig({ ...base, DELIVERY_RETRY_SCHEDULE: Array(20).fill("1s").join(",") }).DELIVERY_RETRY_SCHEDULE).toHaveLength(20);
    expect(problems({ ...base, DELIVERY_RETRY_SCHEDULE: Array(21).fill("1s").join(",") })).toEqual([
      expect.stringMatching(/^DELIVERY_RETRY_SCHEDULE.*at most 20 steps/),
    ]);
  });

  it("names every missing required variable", () => {
    expect(problems({ REDIS_URL: "redis://127.0.0.1:6379" })).toEqual(["DATABASE_URL is required"]);
    expect(problems({ DATABASE_URL: base.DATABASE_URL })).toEqual([
      expect.stringMatching(/^REDIS_URL is required \(or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES\)/),
    ]);
  });

  it("rejects malformed values with the variable's name", () => {
    const found = problems({ ...base, PORT: "eighty", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud", MFB_API_BASE_URL: "ftp://x" });
    expect(found.some((p) => p.startsWith("PORT"))).toBe(true);
    expect(found.some((p) => p.startsWith("DATABASE_URL") && p.includes("postgresql://"))).toBe(true);
    expect(found.some((p) => p.startsWith("LOG_LEVEL"))).toBe(true);
    expect(found.some((p) => p.startsWith("MFB_API_BASE_URL"))).toBe(true);
  });

  it("refuses a short admin token and a bad retry schedule", () => {
    const found = problems({ ...base, ADMIN_TOKEN: "short", DELIVERY_RETRY_SCHEDULE: "0,5s,soon" });
    expect(found.some((p) => p.startsWith("ADMIN_TOKEN") && p.includes("16"))).toBe(true);
    expect(found.some((p) => p.startsWith("DELIVERY_RETRY_SCHEDULE") && p.includes("soon"))).toBe(true);
  });

  it("splits comma-separated secrets and parses durations", () => {
    const config = loadConfig({ ...base, FLOVI_WEBHOOK_SECRET: "old-secret, new-secret", DELIVERY_RETRY_SCHEDULE: "0,5s,5m,2h", QUEUE_PREFIX: "tenant-a" });
    expect(config.FLOVI_WEBHOOK_SECRET).toEqual(["old-secret", "new-secret"]);
    expect(config.DELIVERY_RETRY_SCHEDULE).toEqual([0, 5_000, 300_000, 7_200_000]);
    expect(config.QUEUE_PREFIX).toBe("tenant-a");
    // One Redis Cluster hash tag per queue, so a cluster can spread queues over shards.
    expect(queuePrefix(config.QUEUE_PREFIX, "flovi-events")).toBe("{tenant-a:flovi-events}");
  });

  it("treats empty variables as unset", () => {
    const config = loadConfig({ ...base, FLOVI_API_KEY: "", PORT: "" });
    expect(config.FLOVI_API_KEY).toBeUndefined();
    expect(config.PORT).toBe(3000);
  });
});

describe("Redis topology", () => {
  const db = { DATABASE_URL: base.DATABASE_URL };

  it("takes a single node, a Sentinel set or a Cluster, each from its own variables", () => {
    expect(redisSettings(loadConfig({ ...db, REDIS_URL: "rediss://:pw@cache.internal:6380/2" }))).toMatchObject({
      topology: { kind: "single", url: "rediss://:pw@cache.internal:6380/2" },
      tls: true,
    });
    const sentinel = loadConfig({ ...db, REDIS_SENTINELS: "10.0.0.1:26379, sentinel-b:26380,[::1]:26381", REDIS_SENTINEL_MASTER: "hub", REDIS_PASSWORD: "pw" });
    expect(redisSettings(sentinel)).toEqual({
      topology: {
        kind: "sentinel",
        master: "hub",
        sentinels: [
          { host: "10.0.0.1", port: 26379 },
          { host: "sentinel-b", port: 26380 },
          { host: "::1", port: 26381 },
        ],
      },
      password: "pw",
      tls: false,
    });
    const cluster = loadConfig({ ...db, REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2:7000", REDIS_TLS: "true" });
    expect(redisSettings(cluster)).toMatchObject({
      topology: {
        kind: "cluster",
        nodes: [
          { host: "10.0.0.1", port: 7000 },
          { host: "10.0.0.2", port: 7000 },
        ],
      },
      tls: true,
    });
    expect(describeRedis(redisSettings(cluster))).toBe("cluster 10.0.0.1:7000,10.0.0.2:7000");
    // Credentials never reach the description that logs print.
    expect(describeRedis(redisSettings(loadConfig({ ...db, REDIS_URL: "redis://user:secret@cache:6379" })))).toBe("single redis://cache:6379");
  });

  it("refuses two topologies at once, a half-configured Sentinel and malformed addresses, naming the variable", () => {
    expect(problems({ ...db, REDIS_URL: "redis://a:6379", REDIS_CLUSTER_NODES: "b:7000" })).toEqual([
      "REDIS_CLUSTER_NODES cannot be combined with REDIS_URL: set exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES",
    ]);
    expect(problems({ ...db, REDIS_SENTINELS: "a:26379" })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS/)]);
    expect(problems({ ...db, REDIS_URL: "redis://a:6379", REDIS_SENTINEL_MASTER: "hub" })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS is required with REDIS_SENTINEL_MASTER/),
    ]);
    expect(problems({ ...db, REDIS_CLUSTER_NODES: "a:7000,b" })).toEqual(['REDIS_CLUSTER_NODES "b" is not host:port (e.g. 10.0.0.5:6379, [::1]:6379)']);
    expect(problems({ ...db, REDIS_CLUSTER_NODES: "a:70000" })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES "a:70000" is not host:port/)]);
    expect(problems({ ...db, REDIS_URL: "redis://a:6379", REDIS_PASSWORD: "pw" })).toEqual([
      expect.stringMatching(/^REDIS_URL carries its own credentials and TLS/),
    ]);
    expect(problems({ ...db, REDIS_URL: "redis://a:6379", REDIS_TLS_CA_FILE: "/ca.pem" })).toEqual([
      expect.stringMatching(/^REDIS_TLS_CA_FILE is only read with TLS on/),
    ]);
    expect(problems({ ...db, REDIS_CLUSTER_NODES: "a:7000", REDIS_TLS: "maybe" })).toEqual(["REDIS_TLS must be true or false"]);
  });
});

describe("migration settings", () => {
  it("migrate through DATABASE_DIRECT_URL when a pooler sits in DATABASE_URL", () => {
    const pooled = "postgresql://u@pgbouncer:6432/db";
    expect(loadMigrationConfig({ DATABASE_URL: pooled }).DATABASE_DIRECT_URL).toBeUndefined();
    expect(loadMigrationConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: "postgresql://u@postgres:5432/db" }).DATABASE_DIRECT_URL).toBe(
      "postgresql://u@postgres:5432/db",
    );
  });
});

describe("prepared statements", () => {
  const pooled = { ...base, DATABASE_URL: "postgresql://u@pgbouncer:6432/db" };
  const direct = { DATABASE_DIRECT_URL: "postgresql://u@postgres:5432/db" };

  it("are on unless DATABASE_URL goes through a pooler (DATABASE_DIRECT_URL set); the variable decides when set", () => {
    expect(preparedStatements(loadConfig(base))).toBe(true);
    expect(preparedStatements(loadConfig({ ...pooled, ...direct }))).toBe(false);
    // PgBouncer 1.21 and later keeps them with max_prepared_statements.
    expect(preparedStatements(loadConfig({ ...pooled, ...direct, DATABASE_PREPARED_STATEMENTS: "true" }))).toBe(true);
    expect(preparedStatements(loadConfig({ ...base, DATABASE_PREPARED_STATEMENTS: "false" }))).toBe(false);
    expect(preparedStatements(loadConfig({ ...base, DATABASE_PREPARED_STATEMENTS: "" }))).toBe(true);
    expect(problems({ ...base, DATABASE_PREPARED_STATEMENTS: "sometimes" })).toEqual(["DATABASE_PREPARED_STATEMENTS must be true or false"]);
  });
});

describe("published development secrets", () => {
  const dev = { ...base, ADMIN_TOKEN: "dev-admin-token-change-me", FLOVI_WEBHOOK_SECRET: "a-real-secret-0123456789,dev-webhook-secret" };

  it("are refused with NODE_ENV=production, each named with what to do", () => {
    expect(problems({ ...dev, NODE_ENV: "production" })).toEqual([
      expect.stringMatching(/^ADMIN_TOKEN is a published development default, refused with NODE_ENV=production: set a long random value/),
      expect.stringMatching(/^FLOVI_WEBHOOK_SECRET is a published development default/),
    ]);
    expect(problems({ ...base, NODE_ENV: "production", ADMIN_TOKEN: "change-me-to-a-long-random-string" })).toEqual([
      expect.stringMatching(/^ADMIN_TOKEN is a published development default/),
    ]);
    expect(problems({ ...base, NODE_ENV: "production", ADMIN_TOKEN: "short" })).toEqual([expect.stringMatching(/^ADMIN_TOKEN must be at least 16 characters/)]);
  });

  it("still run a development or test process, and a production one with its own values starts", () => {
    expect(loadConfig({ ...dev, NODE_ENV: "development" }).ADMIN_TOKEN).toBe("dev-admin-token-change-me");
    expect(loadConfig(dev).FLOVI_WEBHOOK_SECRET).toContain("dev-webhook-secret");
    expect(
      loadConfig({ ...base, NODE_ENV: "production", ADMIN_TOKEN: "3f1c0a9b7e6d5c4b3a29181716151413", FLOVI_WEBHOOK_SECRET: "a-real-secret-0123456789" })
        .NODE_ENV,
    ).toBe("production");
  });
});
