import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/env.js";
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
    expect(config.WEBHOOK_BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect(config.QUEUE_PREFIX).toBe("hub");
  });

  it("caps the delivery retry schedule at the attempts the job catalog allows", () => {
    expect(loadConfig({ ...base, DELIVERY_RETRY_SCHEDULE: Array(20).fill("1s").join(",") }).DELIVERY_RETRY_SCHEDULE).toHaveLength(20);
    expect(problems({ ...base, DELIVERY_RETRY_SCHEDULE: Array(21).fill("1s").join(",") })).toEqual([expect.stringMatching(/^DELIVERY_RETRY_SCHEDULE.*at most 20 steps/)]);
  });

  it("names every missing required variable", () => {
    expect(problems({})).toEqual(expect.arrayContaining(["DATABASE_URL is required", "REDIS_URL is required"]));
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
