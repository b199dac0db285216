// One isolated world per test file: its own database (cloned from the migrated template), its own queue
// prefix on the shared Redis, a silent logger, and the real app and workers built from them.
import { randomUUID } from "node:crypto";
import { afterAll, inject } from "vitest";
import { buildApp } from "../../src/app.js";
import { loadConfig, preparedStatements, type Config } from "../../src/config/env.js";
import { redisSettings } from "../../src/config/redis-settings.js";
import { createDatabase as openDatabase } from "../../src/db/client.js";
import { createLogger } from "../../src/observability/logger.js";
import type { Logger } from "pino";
import { createMetrics } from "../../src/observability/metrics.js";
import { createQueues } from "../../src/queues/queues.js";
import { createRedis } from "../../src/queues/redis.js";
import { startWorker, type WorkerRuntime } from "../../src/worker.js";
import { createDatabase } from "../../scripts/lib/local-services.js";
import { poolOf, prismaOf } from "../../src/db/clients.js";
import type { Brokers } from "../../src/delivery/brokers/index.js";

export const TEST_SECRET = "test-webhook-secret";
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";

export type TestEnv = Record<string, string | undefined>;

/** A fresh database cloned from the template; through PgBouncer when the run routes through it. */
export async function freshDatabaseUrl(): Promise<string> {
  const url = await createDatabase(inject("pgServerUrl"), `t_${randomUUID().replace(/-/g, "").slice(0, 16)}`, inject("templateDatabase"));
  const bouncer = inject("pgBouncerPort");
  if (!bouncer) return url;
  const routed = new URL(url);
  routed.port = String(bouncer);
  return routed.toString();
}

/** The same database reached on Postgres itself, never through PgBouncer: for session-level locks and migrations. */
export function directDatabaseUrl(url: string): string {
  const direct = new URL(url);
  direct.port = new URL(inject("pgServerUrl")).port;
  return direct.toString();
}

/** The Redis variables of the run's topology, unless the test names its own Redis. */
export function redisEnvFor(env: TestEnv): TestEnv {
  return Object.keys(env).some((name) => name.startsWith("REDIS_")) ? {} : inject("redisEnv");
}

export function testConfig(databaseUrl: string, env: TestEnv = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: "5",
    // Every test client is 127.0.0.1: the per-address refusal of bad signers is tested on its own.
    WEBHOOK_BAD_SIGNATURE_LIMIT: "0",
    ...redisEnvFor(env),
    QUEUE_PREFIX: `t-${randomUUID().slice(0, 8)}`,
    FLOVI_WEBHOOK_SECRET: TEST_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    INBOUND_SWEEP_INTERVAL_MS: "500",
    OUTBOX_SWEEP_INTERVAL_MS: "500",
    DELIVERY_RETRY_SCHEDULE: "0,200ms,400ms,800ms",
    DELIVERY_POLL_INTERVAL_MS: "100",
    SHUTDOWN_TIMEOUT_MS: "10000",
    // Through PgBouncer, as a deployment would be: migrations (and the choice of prepared statements) see it.
    ...(inject("pgBouncerPort") ? { DATABASE_DIRECT_URL: directDatabaseUrl(databaseUrl) } : {}),
    ...env,
  });
}

/** `log`: a logger of the test's own (test/helpers/captured-log.ts), to read what the service logged. */
export async function createTestContext(env: TestEnv = {}, opts: { log?: Logger } = {}) {
  const config = testConfig(env.DATABASE_URL ?? (await freshDatabaseUrl()), env);
  const log = opts.log ?? createLogger({ level: config.LOG_LEVEL, destination: process.stdout });
  const metrics = createMetrics();
  const db = openDatabase({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, preparedStatements: preparedStatements(config) });
  const redis = createRedis(redisSettings(config), "producer");
  const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX });
  const app = buildApp({ config, db, redis, queues, log, metrics });
  const workers: { runtime: WorkerRuntime; close: () => Promise<void> }[] = [];

  return {
    config,
    log,
    metrics,
    db,
    /** Direct clients, for arranging and inspecting state (a test may; src/ outside src/db may not). */
    prisma: prismaOf(db),
    pool: poolOf(db),
    redis,
    queues,
    app,
    /** Starts the real worker role against this context's database and queue prefix. */
    async startWorker(overrides: Partial<Config> = {}, brokers?: Brokers) {
      const workerRedis = createRedis(redisSettings(config), "worker");
      const workerQueues = createQueues({ connection: workerRedis, prefix: config.QUEUE_PREFIX, addTimeoutMs: 30_000 });
      const runtime = await startWorker({ config: { ...config, ...overrides }, db, redis: workerRedis, queues: workerQueues, log, metrics, brokers });
      const entry = {
        runtime,
        async close() {
          await runtime.close();
          await workerQueues.close();
          await workerRedis.quit().catch(() => workerRedis.disconnect());
        },
      };
      workers.push(entry);
      return entry;
    },
    /**
     * Resolves once `n` jobs named `name` (catalog name, e.g. "sweep-mfb") have completed on this context's
     * workers, counted from now. A test that asserts something did *not* happen waits for the work that would
     * have done it, never for a length of time.
     */
    jobsCompleted(name: string, n = 1, timeoutMs = 15_000): Promise<void> {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const all = workers.flatMap((w) => w.runtime.workers);
        const onCompleted = (job: { name: string }) => {
          if (job.name === name && ++seen >= n) done();
        };
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${n} completed ${name} job(s); saw ${seen}`)), timeoutMs);
        const done = (error?: Error) => {
          clearTimeout(timer);
          for (const w of all) w.off("completed", onCompleted);
          if (error) reject(error);
          else resolve();
        };
        for (const w of all) w.on("completed", onCompleted);
      });
    },
    /**
     * Resolves once nothing is left that could still send or poll: no inbound delivery waiting, no event
     * without its log position, no delivery pending, no job waiting, active or delayed outside the
     * maintenance queue (whose schedulers always hold one), and every worker's in-process work idle. Only then
     * is "exactly once" a finished count rather than a snapshot.
     */
    async settled(timeoutMs = 20_000): Promise<void> {
      await eventually(
        async () => {
          const [row] = await prismaOf(db).$queryRawUnsafe<{ n: number }[]>(BUSY_SQL);
          if (!row || row.n > 0) return false;
          for (const queue of queues.all().filter((q) => q.name !== "maintenance")) {
            const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
            if (Object.values(counts).some((c) => c > 0)) return false;
          }
          await Promise.all(workers.map((w) => w.runtime.idle()));
          return true;
        },
        timeoutMs,
        "the pipeline to settle",
      );
    },
    async close() {
      for (const w of workers) await w.close();
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
}

/**
 * How much work is still waiting in Postgres: stored webhooks not applied, events without their log position,
 * deliveries pending or held. Zero means no duplicate can still be sent from the database's side.
 */
export const BUSY_SQL = `SELECT ((SELECT count(*) FROM inbound_deliveries WHERE status = 'received')
  + (SELECT count(*) FROM events WHERE position IS NULL)
  + (SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'held'))
  + (SELECT count(*) FROM replays WHERE next_position IS NOT NULL))::int AS n`;

export type TestContext = Awaited<ReturnType<typeof createTestContext>>;

/**
 * For a test file that makes its contexts (and subscribers) as it goes: each is closed after all its tests,
 * the last made first. `defaults` is every context's environment, under what a test passes.
 */
export function closedAfterAll(defaults: TestEnv = {}) {
  const closing: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const c of closing.reverse()) await c.close();
  });
  return {
    async context(env: TestEnv = {}): Promise<TestContext> {
      return later(await createTestContext({ ...defaults, ...env }));
    },
    later,
  };
  function later<T extends { close(): Promise<void> }>(c: T): T {
    closing.push(c);
    return c;
  }
}

/** Polls until `probe` returns a truthy value (or throws after `timeoutMs`). Waits on state, never on time. */
export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
