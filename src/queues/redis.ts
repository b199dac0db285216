import { readFileSync } from "node:fs";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { RedisSettings } from "../config/redis-settings.js";

/** A connection to whichever topology the configuration chose; BullMQ takes either. */
export type RedisClient = Redis | Cluster;

const reconnectDelay = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000);

/**
 * One connection to the configured Redis: a single node, a Sentinel-managed primary, or a Cluster.
 *
 * HTTP-side producers fail fast: no offline queue piling up commands while Redis is away, one retry per
 * command. Workers wait for Redis forever instead (BullMQ requires maxRetriesPerRequest: null for them).
 */
export function createRedis(settings: RedisSettings, role: "producer" | "worker", extra: { connectionName?: string } = {}): RedisClient {
  const tls: TlsOptions | undefined = settings.tls ? (settings.caFile ? { ca: readFileSync(settings.caFile) } : {}) : undefined;
  const perCommand: RedisOptions = role === "producer" ? { enableOfflineQueue: false, maxRetriesPerRequest: 1 } : { maxRetriesPerRequest: null };
  // Only the options that are set (a REDIS_URL carries its own credentials).
  const node: RedisOptions = {
    connectTimeout: 2_000,
    lazyConnect: false,
    ...(extra.connectionName ? { connectionName: extra.connectionName } : {}),
    ...(settings.username ? { username: settings.username } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    ...(tls ? { tls } : {}),
  };
  const topology = settings.topology;
  let client: RedisClient;
  if (topology.kind === "cluster") {
    const options: ClusterOptions = {
      enableOfflineQueue: role !== "producer",
      clusterRetryStrategy: reconnectDelay,
      // A failover moves slots: wait for the replica's promotion rather than failing the command at once.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 2_000,
      redisOptions: { ...node, maxRetriesPerRequest: perCommand.maxRetriesPerRequest },
      // Managed clusters with TLS announce node names their certificates are for: connect by name, not address.
      ...(tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
    };
    client = new Cluster(topology.nodes, options);
  } else if (topology.kind === "sentinel") {
    client = new Redis({
      ...node,
      ...perCommand,
      retryStrategy: reconnectDelay,
      sentinels: topology.sentinels,
      name: topology.master,
      ...(settings.sentinelPassword ? { sentinelPassword: settings.sentinelPassword } : {}),
      enableTLSForSentinelMode: tls !== undefined,
      ...(tls ? { sentinelTLS: tls } : {}),
      sentinelRetryStrategy: reconnectDelay,
      // Subscribes to the sentinels' +switch-master: a failover reconnects at once, not after a timeout.
      failoverDetector: true,
    });
  } else {
    client = new Redis(topology.url, { ...node, ...perCommand, retryStrategy: reconnectDelay });
  }
  // Connection errors surface through the commands that fail; the reconnect loop keeps going.
  client.on("error", () => undefined);
  return client;
}

/** PING with a deadline; a connection still (re)connecting gets until the deadline to become ready. */
export async function pingRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
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
