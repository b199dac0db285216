import { Redis, type RedisOptions } from "ioredis";

/**
 * HTTP-side producers fail fast: no offline queue piling up commands while Redis is away, one retry per
 * command. Workers wait for Redis forever instead (BullMQ requires maxRetriesPerRequest: null for them).
 */
export function createRedis(url: string, role: "producer" | "worker", extra: RedisOptions = {}): Redis {
  const common: RedisOptions = {
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    lazyConnect: false,
    ...extra,
  };
  const redis =
    role === "producer"
      ? new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 })
      : new Redis(url, { ...common, maxRetriesPerRequest: null });
  // Connection errors surface through the commands that fail; the reconnect loop keeps going.
  redis.on("error", () => undefined);
  return redis;
}

/** PING with a deadline; a connection still (re)connecting gets until the deadline to become ready. */
export async function pingRedis(redis: Redis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (redis.status !== "ready" && Date.now() < deadline) {
    if (redis.status === "end") throw new Error("redis connection closed");
    await new Promise((r) => setTimeout(r, 25));
  }
  const remaining = Math.max(1, deadline - Date.now());
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("redis ping timed out")), remaining);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
