// The one schema over the environment. main.ts parses it once at boot; nothing else reads process.env.
import { z } from "zod";
import { isTimeZone } from "../lib/time-zone.js";
import { deliveryEnv } from "./delivery-env.js";
import { csv, DAY, durationMs, flag, HOUR, hostPortList, httpUrl, MINUTE, optionalFlag, optionalString, positiveInt, SECOND } from "./env-parsers.js";

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  /** A worker's /metrics, /healthz and /readyz (0: none). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(0),
  HOST: z.string().min(1).default("0.0.0.0"),
  /** One readable info line per delivery attempt (the dev runner turns it on; at volume it is a line per attempt). */
  LOG_DELIVERY_OUTCOMES: z
    .enum(["true", "false", "1", "0", ""])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// connection string" }),
  DATABASE_POOL_SIZE: positiveInt(10),
  /**
   * The api's separate pool for what operators read and do (console, admin API, subscription and tracking
   * reads): however heavy their pages, they never take the ingress's connections (docs/security.md).
   */
  DATABASE_OPERATOR_POOL_SIZE: positiveInt(2),
  /**
   * The api's pool for consumers' reads of the event log (GET /events): a consumer paging as fast as it can
   * waits for these connections, never for the ingress's (docs/operations.md, "Postgres connections").
   */
  DATABASE_READER_POOL_SIZE: positiveInt(2),
  /**
   * Postgres itself when DATABASE_URL goes through a transaction pooler (PgBouncer): migrations hold a session
   * lock, so `npm run db:migrate` uses this when it is set. The service never does.
   */
  DATABASE_DIRECT_URL: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// connection string" }).optional(),
  /**
   * Whether the hot statements are prepared once per connection (docs/architecture.md, "Hot statements"). A
   * transaction pooler that does not keep prepared statements (PgBouncer before 1.21, or without
   * max_prepared_statements) loses them: unset, they are prepared unless DATABASE_DIRECT_URL is set.
   */
  DATABASE_PREPARED_STATEMENTS: optionalFlag,
  /** Exactly one of REDIS_URL, REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER), REDIS_CLUSTER_NODES (docs/operations.md). */
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }).optional(),
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_MASTER: optionalString,
  /** The sentinels' own password (requirepass on the sentinels), when they have one. */
  REDIS_SENTINEL_PASSWORD: optionalString,
  REDIS_CLUSTER_NODES: hostPortList,
  /** ACL user and password of the data nodes, for Sentinel and Cluster (a REDIS_URL carries its own). */
  REDIS_USERNAME: optionalString,
  REDIS_PASSWORD: optionalString,
  /** TLS to Sentinel and Cluster nodes (a single node turns TLS on with rediss://). */
  REDIS_TLS: flag,
  /** A PEM file of the CA(s) that signed the Redis servers' certificates, for any topology with TLS. */
  REDIS_TLS_CA_FILE: optionalString,
  /** Prefix of every BullMQ key. Wrapped in {braces} so a Redis Cluster keeps each queue in one slot. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    // Each queue gets its own Redis Cluster hash tag from it: `{<prefix>:<queue>}` (queues/queues.ts).
    .default("hub"),

  ADMIN_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),

  FLOVI_WEBHOOK_SECRET: csv,
  /** Flovi's status changes are a few KB: 256 KiB leaves room, and bounds what a badly signed body costs. */
  WEBHOOK_BODY_LIMIT_BYTES: positiveInt(256 * 1024),
  /**
   * Wrong signatures from one address within 10 s before its webhooks are refused unread (429) for 30 s;
   * 0 turns it off (docs/security.md, "Cheap refusal").
   */
  WEBHOOK_BAD_SIGNATURE_LIMIT: z.coerce.number().int().min(0).default(20),
  FLOVI_API_BASE_URL: httpUrl.default("https://flovi-customer-api-sg3z5hpkva-lz.a.run.app"),
  FLOVI_API_KEY: optionalString,
  /** A non-final reservation silent this long is looked up in Flovi's API. */
  FLOVI_RECONCILE_AFTER_MS: durationMs(2 * HOUR),
  FLOVI_RECONCILE_INTERVAL_MS: durationMs(10 * MINUTE),
  /** A reservation sealed this long without final_costs emits reservation.final_costs_overdue (once). */
  FLOVI_FINAL_COSTS_OVERDUE_MS: durationMs(16 * DAY),
  /** The backfill's pass over the reservation list ends at reservations created longer ago than this. */
  FLOVI_BACKFILL_LOOKBACK_MS: durationMs(30 * DAY),
  /** Pages of 100 the backfill reads per reconciliation run at most (a longer pass resumes next run). */
  FLOVI_BACKFILL_PAGES_PER_RUN: positiveInt(10),

  MFB_API_BASE_URL: httpUrl.default("https://test.myflyingbox.com/v2"),
  MFB_LOGIN: optionalString,
  MFB_PASSWORD: optionalString,
  MFB_POLL_INTERVAL_MS: durationMs(15 * MINUTE),
  /** A tracked order whose polls bring nothing new waits longer each time (after two such polls), up to this. */
  MFB_POLL_CEILING_MS: durationMs(6 * HOUR),
  /** An order whose tracking has not moved for this long stops being polled (stoppedReason no_movement, and a tracking_stopped event). */
  MFB_STALE_AFTER_MS: durationMs(30 * 24 * HOUR),
  MFB_RATE_LIMIT_PER_SECOND: positiveInt(20),

  GREENFLOW_API_BASE_URL: httpUrl.default("https://greenflow.live/api/v1"),
  GREENFLOW_API_KEY: optionalString,
  GREENFLOW_POLL_INTERVAL_MS: durationMs(30 * MINUTE),
  GREENFLOW_POLL_CEILING_MS: durationMs(6 * HOUR),
  /** GreenFlow's pickup_date / dropoff_date carry no offset: they are read as wall time in this IANA zone. */
  GREENFLOW_TIME_ZONE: z.string().default("UTC").refine(isTimeZone, "must be an IANA time zone such as Europe/Lisbon or UTC"),
  GREENFLOW_RATE_LIMIT_PER_SECOND: positiveInt(10),

  /** How often each provider's sweep looks for items that are due. */
  POLL_SWEEP_INTERVAL_MS: durationMs(30 * SECOND),
  POLL_BATCH_SIZE: positiveInt(500),
  /** How long a provider-wide pause (after a 401) lasts before polling probes again. */
  PROVIDER_PAUSE_MS: durationMs(15 * MINUTE),
  PROVIDER_TIMEOUT_MS: durationMs(10 * SECOND),

  SUBSCRIPTION_ALLOWED_HOSTS: csv,
  ...deliveryEnv,
  SECRET_ROTATION_GRACE_MS: durationMs(24 * HOUR),

  /** Safety nets behind the fast paths: re-enqueue stored-but-unqueued work this often. */
  INBOUND_SWEEP_INTERVAL_MS: durationMs(10 * SECOND),
  OUTBOX_SWEEP_INTERVAL_MS: durationMs(5 * SECOND),
  /** While a worker cannot reach Redis, it drains the inbox and relays the outbox from Postgres this often (0: off). */
  REDIS_DOWN_SWEEP_INTERVAL_MS: durationMs(SECOND),

  WORKER_CONCURRENCY: positiveInt(8),
  /** A job whose worker stops renewing its lock this long (a crashed process) is handed to another worker. */
  JOB_LOCK_MS: positiveInt(30 * SECOND),
  SHUTDOWN_TIMEOUT_MS: durationMs(25 * SECOND),

  /** Retention per kind of data (docs/operations.md); RETENTION_PRUNE_INTERVAL_MS=0 turns pruning off. */
  RETENTION_INBOUND_BODY_MS: durationMs(30 * DAY),
  RETENTION_INBOUND_ROW_MS: durationMs(90 * DAY),
  RETENTION_DELIVERIES_MS: durationMs(30 * DAY),
  RETENTION_FAILED_DELIVERIES_MS: durationMs(90 * DAY),
  RETENTION_EVENTS_MS: durationMs(90 * DAY),
  RETENTION_TRACKING_MS: durationMs(180 * DAY),
  RETENTION_AUDIT_MS: durationMs(365 * DAY),
  RETENTION_PRUNE_INTERVAL_MS: durationMs(10 * MINUTE),
  RETENTION_BATCH_SIZE: positiveInt(500),

  /** HTTP server limits: the whole request (headers and body) must arrive within these. */
  HTTP_HEADERS_TIMEOUT_MS: durationMs(10 * SECOND),
  /**
   * Behind a proxy that terminates TLS: which hops to believe about the client's protocol, host and address
   * (X-Forwarded-Proto/-Host/-For). `false` (none), `true` (any: only when nothing else can reach the api), a
   * hop count, or addresses/CIDRs/`loopback`/`uniquelocal`, comma-separated (docs/security.md).
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .default("false")
    .transform((value, ctx): boolean | number | string => {
      if (value === "false" || value === "") return false;
      if (value === "true") return true;
      if (/^\d+$/.test(value)) return Number(value);
      const parts = value.split(",").map((p) => p.trim());
      const known = /^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/;
      if (parts.every((p) => known.test(p))) return parts.join(",");
      ctx.addIssue({ code: "custom", message: "must be false, true, a hop count, or addresses/CIDRs/loopback/uniquelocal separated by commas" });
      return z.NEVER;
    }),
  HTTP_REQUEST_TIMEOUT_MS: durationMs(30 * SECOND),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: durationMs(65 * SECOND),
});

/** Exactly one Redis topology, and each one complete: checked after the fields parse. */
const configSchema = envSchema.superRefine((c, ctx) => {
  const chosen = [
    c.REDIS_URL !== undefined && "REDIS_URL",
    c.REDIS_SENTINELS.length > 0 && "REDIS_SENTINELS",
    c.REDIS_CLUSTER_NODES.length > 0 && "REDIS_CLUSTER_NODES",
  ].filter((name): name is string => name !== false);
  const problem = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (chosen.length === 0) {
    problem("REDIS_URL", "is required (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES): one Redis topology");
  } else if (chosen.length > 1) {
    problem(chosen[1]!, `cannot be combined with ${chosen[0]}: set exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES`);
  }
  if (c.REDIS_SENTINELS.length > 0 && c.REDIS_SENTINEL_MASTER === undefined) {
    problem("REDIS_SENTINEL_MASTER", "is required with REDIS_SENTINELS (the master's name in the sentinels' configuration)");
  }
  if (c.REDIS_SENTINEL_MASTER !== undefined && c.REDIS_SENTINELS.length === 0) {
    problem("REDIS_SENTINELS", "is required with REDIS_SENTINEL_MASTER (host:port of each sentinel)");
  }
  if (c.REDIS_URL !== undefined && (c.REDIS_TLS || c.REDIS_USERNAME !== undefined || c.REDIS_PASSWORD !== undefined)) {
    problem("REDIS_URL", "carries its own credentials and TLS: use rediss://user:password@host:port instead of REDIS_TLS / REDIS_USERNAME / REDIS_PASSWORD");
  }
  if (c.REDIS_TLS_CA_FILE !== undefined && !c.REDIS_TLS && !(c.REDIS_URL ?? "").startsWith("rediss:")) {
    problem("REDIS_TLS_CA_FILE", "is only read with TLS on (REDIS_TLS=true, or a rediss:// REDIS_URL)");
  }
  // A production process never runs on a value printed in this repository's docs and scripts.
  if (c.NODE_ENV === "production") {
    const why = "is a published development default, refused with NODE_ENV=production: set a long random value (openssl rand -hex 32)";
    if (c.ADMIN_TOKEN !== undefined && PUBLISHED_DEFAULTS.has(c.ADMIN_TOKEN)) problem("ADMIN_TOKEN", why);
    if (c.FLOVI_WEBHOOK_SECRET.some((secret) => PUBLISHED_DEFAULTS.has(secret))) problem("FLOVI_WEBHOOK_SECRET", why);
  }
});

/** The secrets `npm run dev`, the demo and docker-compose.yml fill in, which anyone can read here. */
const PUBLISHED_DEFAULTS = new Set([
  "dev-admin-token-change-me",
  "dev-webhook-secret",
  "demo-admin-token-0123456789",
  "demo-webhook-secret",
  "change-me-to-a-long-random-string",
]);

export const MIN_SECRET_LENGTH = 16;

export function weakSecrets(config: Pick<Config, "FLOVI_WEBHOOK_SECRET">): number {
  return config.FLOVI_WEBHOOK_SECRET.filter((s) => s.length < MIN_SECRET_LENGTH).length;
}

export type Config = z.output<typeof envSchema>;

/** DATABASE_PREPARED_STATEMENTS, or when unset: on, unless DATABASE_URL goes through a pooler (DATABASE_DIRECT_URL is set). */
export function preparedStatements(config: Pick<Config, "DATABASE_PREPARED_STATEMENTS" | "DATABASE_DIRECT_URL">): boolean {
  return config.DATABASE_PREPARED_STATEMENTS ?? config.DATABASE_DIRECT_URL === undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment; throws ConfigError naming every missing or malformed variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as in most twelve-factor tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join(".") || "(environment)";
        const message = issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
        return `${name} ${message}`;
      }),
    );
  }
  return parsed.data;
}

export function loadMigrationConfig(env: Record<string, string | undefined>): { DATABASE_URL: string; DATABASE_DIRECT_URL?: string; MIGRATIONS_DIR: string } {
  const parsed = envSchema
    .pick({ DATABASE_URL: true, DATABASE_DIRECT_URL: true })
    .extend({ MIGRATIONS_DIR: z.string().default("prisma/migrations") })
    .safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== "")));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")} ${i.code === "invalid_type" ? "is required" : i.message}`));
  }
  return parsed.data;
}
