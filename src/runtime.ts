// Builds the shared resources for a role (api, worker, both, or the console alone), starts it and owns the
// shutdown order.
// main.ts calls it for the real process; the fault suite and the demo call it too.
import http from "node:http";
import express from "express";
import { buildApp } from "./app.js";
import { healthRoutes } from "./http/health.js";
import { MIN_SECRET_LENGTH, preparedStatements, weakSecrets, type Config } from "./config/env.js";
import { providerStatus } from "./config/providers.js";
import { dependencyPorts, describeRedis, redisSettings } from "./config/redis-settings.js";
import { createDatabase } from "./db/client.js";
import { onEventSchemaViolation } from "./domain/event-catalog.js";
import { createShutdown, type ShutdownStep } from "./lifecycle/shutdown.js";
import type { Logger } from "./observability/logger.js";
import { createMetrics } from "./observability/metrics.js";
import { createOutages, quietOutages } from "./observability/outages.js";
import { createQueues } from "./queues/queues.js";
import { createRedis, pingRedis } from "./queues/redis.js";
import { withTimeout } from "./lib/timeout.js";
import { startWorker, type WorkerRuntime } from "./worker.js";

/** `console`: the api without the Flovi ingress, for operators (console, admin API), deployed apart so that page rendering never shares an event loop with the ingress. */
export type Role = "api" | "worker" | "all" | "console";

export interface Running {
  /** The bound HTTP port (api and all roles). */
  port?: number;
  stop(reason: string): Promise<{ clean: boolean }>;
}

/** What the hub does while a dependency is away, said once in the outage's warning. */
const MEANWHILE = {
  api: {
    redis: "webhooks are still accepted and stored in Postgres, and workers apply and deliver them from there; /readyz stays 200 (degraded: redis)",
    postgres: "webhooks are refused with 503 (nothing is accepted that is not stored); Flovi sends them again",
  },
  worker: {
    redis:
      "the inbox and the outbox are swept from Postgres every REDIS_DOWN_SWEEP_INTERVAL_MS and due deliveries go out as usual; provider polls, Flovi look-ups, pruning and parked failures wait for Redis",
    postgres: "jobs fail and are retried; nothing is applied or delivered until it is back",
  },
};

export async function start(role: Role, config: Config, processLog: Logger): Promise<Running> {
  const metrics = createMetrics();
  // An event off its schema is a bug in the hub: said loudly, counted, and still emitted (docs/events.md).
  // Under test (NODE_ENV=test) it throws instead, so that no test passes with an event off its schema.
  if (process.env.NODE_ENV !== "test")
    onEventSchemaViolation((problem, event) => {
      metrics.eventSchemaViolations.inc({ type: event.type });
      log.error({ eventId: event.id, type: event.type, problem }, "emitted an event that does not match its schema in the catalog");
    });
  const prepared = preparedStatements(config);
  const db = createDatabase({
    url: config.DATABASE_URL,
    poolSize: config.DATABASE_POOL_SIZE,
    applicationName: `event-hub-${role}`,
    preparedStatements: prepared,
  });
  const redisConnections: ReturnType<typeof createRedis>[] = [];
  // One warning when Redis or Postgres goes away, reminders, one line when it is back (observability/outages.ts).
  const meanwhile =
    role === "all"
      ? { redis: `${MEANWHILE.api.redis}; ${MEANWHILE.worker.redis}`, postgres: MEANWHILE.api.postgres }
      : MEANWHILE[role === "console" ? "api" : role];
  const outages = createOutages({
    log: processLog,
    meanwhile,
    probes: { redis: () => pingRedis(redisConnections[0]!, 1_500), postgres: () => db.ping(1_500) },
    gauge: metrics.dependencyUp,
  });
  const log = quietOutages(processLog, outages, dependencyPorts(config));
  const steps: ShutdownStep[] = [];
  let server: http.Server | undefined;
  let metricsServer: http.Server | undefined;
  const readPools: ReturnType<typeof createDatabase>[] = [];
  let drainApp: (() => Promise<void>) | undefined;
  let stopIntake: (() => void) | undefined;
  let worker: WorkerRuntime | undefined;
  const warmed: (() => void)[] = [];
  const queueSets: ReturnType<typeof createQueues>[] = [];

  if (role === "api" || role === "all" || role === "console") {
    const redis = createRedis(redisSettings(config), "producer", { connectionName: "event-hub-api" });
    const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX });
    redisConnections.push(redis);
    queueSets.push(queues);
    // Operators' reads and actions get their own small pool (never the ingress's connections).
    const operatorDb = createDatabase({
      url: config.DATABASE_URL,
      poolSize: config.DATABASE_OPERATOR_POOL_SIZE,
      applicationName: "event-hub-operator",
      queryTimeoutMs: 15_000,
      preparedStatements: prepared,
    });
    // Consumers paging the event log get theirs too: as fast as they page, the ingress keeps its connections.
    const readerDb = createDatabase({
      url: config.DATABASE_URL,
      poolSize: config.DATABASE_READER_POOL_SIZE,
      applicationName: "event-hub-reader",
      queryTimeoutMs: 15_000,
      preparedStatements: prepared,
    });
    readPools.push(operatorDb, readerDb);
    const app = buildApp({ config, db, operatorDb, readerDb, redis, queues, log, metrics, ingress: role !== "console" });
    // /readyz answers 503 "warming_up" until warmUp below has run: a load balancer sends no traffic before.
    app.locals.warming = true;
    warmed.push(() => {
      app.locals.warming = false;
    });
    // Timeouts are checked every second (Node's default is 30 s, so a 10 s headers timeout could hold for 40).
    server = http.createServer({ connectionsCheckingInterval: 1_000 }, app);
    drainApp = app.locals.drain as () => Promise<void>;
    stopIntake = () => {
      app.locals.draining = true;
    };
    // Explicit limits: a client that trickles headers or a body cannot hold a connection open for long.
    server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
    server.requestTimeout = config.HTTP_REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
    const weak = weakSecrets(config);
    if (weak > 0) log.error({ weakSecrets: weak, minimumLength: MIN_SECRET_LENGTH }, "FLOVI_WEBHOOK_SECRET is weak: use at least 16 random characters");
    // Unconfigured parts answer 503 by design; say so once at start rather than on every request.
    if (config.FLOVI_WEBHOOK_SECRET.length === 0) log.warn("FLOVI_WEBHOOK_SECRET is not set: POST /webhooks/flovi answers 503 until it is");
    if (!config.ADMIN_TOKEN) log.warn("ADMIN_TOKEN is not set: the management API, the console and the admin UI answer 503 until it is");
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once("error", reject);
      listening.listen(config.PORT, config.HOST, () => resolve());
    });
  }
  if (role === "worker" || role === "all") {
    const redis = createRedis(redisSettings(config), "worker", { connectionName: "event-hub-worker" });
    const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX, addTimeoutMs: 30_000 });
    redisConnections.push(redis);
    queueSets.push(queues);
    worker = await startWorker({ config, db, redis, queues, log, metrics });
    // A worker serves no API; with WORKER_METRICS_PORT set it serves /metrics, /healthz and /readyz for
    // Prometheus and orchestrators (role "all" has them on the api's port already).
    if (role === "worker" && config.WORKER_METRICS_PORT > 0) {
      const app = express();
      app.disable("x-powered-by");
      app.use(healthRoutes({ db, redis, metrics, queues, config, role: "worker" }));
      app.locals.warming = true;
      warmed.push(() => {
        app.locals.warming = false;
      });
      const listening = http.createServer(app);
      metricsServer = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(config.WORKER_METRICS_PORT, config.HOST, () => resolve());
      });
    }
  }

  // Fixed order: stop HTTP intake (in-flight requests finish), stop workers (active jobs finish or are
  // handed back), then queues, Redis, Postgres.
  if (server) {
    const s = server;
    steps.push({
      name: "http",
      run: async () => {
        // Stop accepting connections; requests in flight finish (their responses say `connection: close`);
        // idle keep-alive connections are closed as they become idle; stragglers are cut at half the deadline.
        stopIntake?.();
        const sweep = setInterval(() => s.closeIdleConnections(), 50);
        const cut = setTimeout(() => s.closeAllConnections(), Math.max(1_000, config.SHUTDOWN_TIMEOUT_MS / 2));
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        });
        clearInterval(sweep);
        clearTimeout(cut);
        await drainApp?.();
      },
    });
  }
  if (worker) {
    const w = worker;
    steps.push({ name: "workers", run: () => w.close() });
  }
  if (metricsServer) {
    const m = metricsServer;
    steps.push({ name: "metrics", run: () => new Promise<void>((resolve) => m.close(() => resolve())).finally(() => m.closeAllConnections()) });
  }
  steps.push({ name: "queues", run: () => Promise.all(queueSets.map((q) => q.close())) });
  steps.push({ name: "redis", run: () => Promise.all(redisConnections.map((r) => r.quit().catch(() => r.disconnect()))) });
  steps.push({ name: "postgres", run: () => Promise.all([db.close(), ...readPools.map((o) => o.close())]).then(() => outages.close()) });

  const shutdown = createShutdown({ steps: () => steps, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, log });
  // A few connections: as many as a process keeps busy at a steady rate (more would spread the first work
  // over more server processes, each cold).
  const warmMs = await warmUp(db, queueSets, 4, log);
  for (const done of warmed) done();
  const address = server?.address();
  const port = address && typeof address === "object" ? address.port : undefined;
  // One line per provider: a newcomer sees at once that polling is off, and why.
  for (const status of providerStatus(config)) log.info(status, status.enabled ? "provider enabled" : "provider disabled");
  log.info({ role, port, queuePrefix: config.QUEUE_PREFIX, redis: describeRedis(redisSettings(config)), warmMs }, "started");
  return { port, stop: shutdown };
}

/**
 * Before a process reports ready: every pooled Postgres connection open and Prisma's compiler loaded, every
 * queue's Redis connection ready and its scripts cached. Without it the first seconds of traffic pay for all
 * of that (docs/performance.md, "Cold start"). A dependency that is down does not block the start: the
 * process starts unready-looking as before, and /readyz reports the failing part.
 */
async function warmUp(db: ReturnType<typeof createDatabase>, queueSets: ReturnType<typeof createQueues>[], connections: number, log: Logger): Promise<number> {
  const started = Date.now();
  const queues = queueSets.flatMap((set) => set.all());
  const results = await Promise.allSettled([
    withTimeout(db.warm(connections), 10_000, "postgres warm-up timed out"),
    withTimeout(
      Promise.all(queues.map((q) => q.waitUntilReady())).then(() => Promise.all(queues.map((q) => q.getJobCounts("waiting", "active", "delayed")))),
      10_000,
      "redis warm-up timed out",
    ),
  ]);
  for (const r of results) if (r.status === "rejected") log.warn({ err: r.reason }, "warm-up incomplete: starting anyway");
  return Date.now() - started;
}
