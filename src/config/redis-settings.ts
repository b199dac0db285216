// The Redis topology the configuration names (one URL, Sentinel or Cluster), as the clients take it.
import type { Config } from "./env.js";
import type { HostPort } from "./env-parsers.js";

type RedisTopology = { kind: "single"; url: string } | { kind: "sentinel"; sentinels: HostPort[]; master: string } | { kind: "cluster"; nodes: HostPort[] };

export interface RedisSettings {
  topology: RedisTopology;
  username?: string;
  password?: string;
  sentinelPassword?: string;
  tls: boolean;
  caFile?: string;
}

/** The Redis connection the configuration chose (validated: exactly one topology). */
export function redisSettings(c: Config): RedisSettings {
  const topology: RedisTopology =
    c.REDIS_URL !== undefined
      ? { kind: "single", url: c.REDIS_URL }
      : c.REDIS_SENTINELS.length > 0
        ? { kind: "sentinel", sentinels: c.REDIS_SENTINELS, master: c.REDIS_SENTINEL_MASTER ?? "" }
        : { kind: "cluster", nodes: c.REDIS_CLUSTER_NODES };
  return {
    topology,
    username: c.REDIS_USERNAME,
    password: c.REDIS_PASSWORD,
    sentinelPassword: c.REDIS_SENTINEL_PASSWORD,
    tls: c.REDIS_TLS || (c.REDIS_URL ?? "").startsWith("rediss:"),
    caFile: c.REDIS_TLS_CA_FILE,
  };
}

/** Where Redis is, for logs and the console: addresses only, never credentials. */
export function describeRedis(settings: RedisSettings): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(",");
  const t = settings.topology;
  if (t.kind === "single") {
    const url = new URL(t.url);
    return `single ${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  }
  return t.kind === "sentinel" ? `sentinel ${t.master}@${list(t.sentinels)}` : `cluster ${list(t.nodes)}`;
}

/** Webhook secrets shorter than this are accepted but reported as weak (at start and in /readyz). */

/** The ports the process connects to, to tell a lost connection to Postgres from one to Redis (observability/outages.ts). */
export function dependencyPorts(c: Config): { postgresPorts: number[]; redisPorts: number[] } {
  const portOf = (url: string, fallback: number) => Number(new URL(url).port || fallback);
  const postgresPorts = [c.DATABASE_URL, c.DATABASE_DIRECT_URL].filter((u): u is string => u !== undefined).map((u) => portOf(u, 5432));
  const redisPorts = c.REDIS_URL !== undefined ? [portOf(c.REDIS_URL, 6379)] : [...c.REDIS_SENTINELS, ...c.REDIS_CLUSTER_NODES].map((n) => n.port);
  return { postgresPorts, redisPorts };
}
