// The real topology for end-to-end benchmarks: private Postgres and Redis, the built api and worker
// processes, a verifying subscriber (standardwebhooks) in this process, and signed Flovi requests whose
// reservation id carries their send time, so the subscriber measures webhook sent → verified POST received.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ChildProcess } from "node:child_process";
import { Webhook } from "standardwebhooks";
import { startLoadBalancer, type LoadBalancer } from "../scripts/lib/topologies.js";
import { benchServices, freePort, spawnNode, stopChild, type BenchEnv, type RedisKind } from "./lib.js";
import { type BrokerKind, startBrokerConsumer } from "./broker-consumer.js";

export const SECRET = "bench-secret";
export const ADMIN = "bench-admin-token-0123456789";
const ENTRY = "dist/src/main.js";

/** A subscriber of this process: verifies every request, counts what it saw, optionally answers slowly. */
export interface BenchSubscriber {
  id: string;
  url: string;
  /** Distinct event ids verified so far. */
  seen: { readonly size: number; has(id: string): boolean };
  /** End-to-end latencies (ms) of first verified arrivals; clear it between phases. */
  latencies: number[];
  /** When (epoch ms) each event id was first verified. */
  arrivals: Map<string, number>;
  /** Arrivals whose sequence is lower than one already seen for the same subject. */
  outOfOrder(): number;
  rejected(): number;
  close(): Promise<void>;
}

export interface Topology {
  services: BenchEnv;
  apiPort: number;
  api: ChildProcess;
  apis: ChildProcess[];
  worker: ChildProcess;
  workers: ChildProcess[];
  /** From the first spawn until every process reported ready. */
  readyMs: number;
  /** The console role's port, when the topology runs one (operators' pages apart from the ingress). */
  consolePort?: number;
  /** The load balancer in front of several api processes. */
  balancer?: LoadBalancer;
  /** The broker the default subscription publishes to (`destination`), whose process group's CPU is its own. */
  brokerPid?: number;
  /** Distinct event ids verified so far. */
  seen: { readonly size: number; has(id: string): boolean };
  /** End-to-end latencies (ms) of verified events, in arrival order; clear it between phases. */
  latencies: number[];
  /** The default HTTP subscriber's first arrival (epoch ms) per event id (empty with a broker destination). */
  arrivals: Map<string, number>;
  rejected(): number;
  /** The default subscriber's arrivals whose sequence is lower than one it already had for the subject. */
  outOfOrder(): number;
  signedRequest(): { method: "POST"; path: string; headers: Record<string, string>; body: string };
  /** The default subscriber's subscription id. */
  subscriptionId: string;
  /** Another verifying subscriber on the same events, answering after `delayMs`. */
  addSubscriber(opts?: { delayMs?: number; body?: Record<string, unknown> }): Promise<BenchSubscriber>;
  /** PATCH the default subscription (ordering, limits). */
  changeSubscription(id: string, change: Record<string, unknown>): Promise<void>;
  deleteSubscription(id: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A verifying subscriber. Latency is measured from the event's `time`, which the bench's Flovi requests set
 * to their send time (occurredAt), so it holds for every state of a reservation.
 */
async function startSubscriber(delayMs: number): Promise<Omit<BenchSubscriber, "id"> & { setSecret(s: string): void }> {
  const latencies: number[] = [];
  // Each event id verified so far, with when (epoch ms) it first was.
  const arrivals = new Map<string, number>();
  const last = new Map<string, number>();
  let rejected = 0;
  let outOfOrder = 0;
  let secret = "";
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let event: { id: string; subject: string; time: string; data: { sequence: number } };
      try {
        event = new Webhook(secret).verify(Buffer.concat(chunks).toString("utf8"), req.headers as Record<string, string>) as typeof event;
      } catch {
        rejected += 1;
        res.writeHead(401).end();
        return;
      }
      const answer = () => {
        if (!arrivals.has(event.id)) {
          const now = Date.now();
          arrivals.set(event.id, now);
          latencies.push(now - Date.parse(event.time));
          if ((last.get(event.subject) ?? 0) > event.data.sequence) outOfOrder += 1;
          last.set(event.subject, Math.max(last.get(event.subject) ?? 0, event.data.sequence));
        }
        res.writeHead(204).end();
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    seen: arrivals,
    latencies,
    arrivals,
    outOfOrder: () => outOfOrder,
    rejected: () => rejected,
    setSecret: (s) => (secret = s),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startTopology(
  opts: {
    /** Load pg_stat_statements ("planning": and time the planning too, which costs a little). */
    statStatements?: boolean | "planning";
    env?: Record<string, string>;
    /**
     * Each reservation walks Flovi's five states (one request each) instead of one `created` per reservation:
     * `walk` reservations at a time, all their `created`, then all their `taken`, …, so that one reservation's
     * states are sent `walk` requests apart (a second apart at `walk` requests per second), never racing each
     * other to the ingress.
     */
    walk?: number;
    /** Worker processes (default 1). */
    workers?: number;
    /** Api processes (default 1); from 2 on, apiPort is a round-robin TCP balancer in front of them. */
    apis?: number;
    /** The Redis topology and PgBouncer (benchServices). */
    redis?: RedisKind;
    pgbouncer?: boolean;
    /** Count an api as started only once GET /readyz answers 200 (its pools open, its paths warm). */
    untilReady?: boolean;
    /** A process of the console role beside the api (`consolePort`). */
    consoleProcess?: boolean;
    /** The default subscription publishes to this broker (a consumer here reads it) instead of POSTing. */
    destination?: BrokerKind;
  } = {},
): Promise<Topology> {
  const main = await startSubscriber(0);
  const extra: BenchSubscriber[] = [];

  const STATES = ["created", "taken", "driving", "sealed", "final_costs"];
  let counter = 0;
  const signedRequest = () => {
    const n = counter++;
    const width = opts.walk ?? 0;
    const block = width > 0 ? Math.floor(n / (width * STATES.length)) : 0;
    const within = width > 0 ? n % (width * STATES.length) : 0;
    const reservationId = width > 0 ? `e2e-${block * width + (within % width)}` : `e2e-${n}`;
    const state = width > 0 ? STATES[Math.floor(within / width)]! : "created";
    const body = JSON.stringify({ event: "reservation_status_change", reservationId, state, occurredAt: new Date().toISOString() });
    return {
      method: "POST" as const,
      path: "/webhooks/flovi",
      headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
      body,
    };
  };

  const services = await benchServices({ statStatements: opts.statStatements, redis: opts.redis, pgbouncer: opts.pgbouncer });
  const apiPorts = await Promise.all(Array.from({ length: opts.apis ?? 1 }, () => freePort()));
  const env = {
    NODE_ENV: "development",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    HOST: "127.0.0.1",
    DATABASE_URL: services.databaseUrl,
    // Through PgBouncer, as a deployment says so: the hot statements are then planned at each run.
    ...(opts.pgbouncer ? { DATABASE_DIRECT_URL: services.directDatabaseUrl } : {}),
    ...services.redisEnv,
    DATABASE_POOL_SIZE: "20",
    FLOVI_WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: ADMIN,
    WORKER_CONCURRENCY: "16",
    ...opts.env,
  };
  const started = Date.now();
  const apis: ChildProcess[] = [];
  for (const port of apiPorts) {
    const probe = opts.untilReady ? "/readyz" : "/healthz";
    apis.push(
      await spawnNode(
        ENTRY,
        ["api"],
        { ...env, PORT: String(port) },
        opts.untilReady ? "(never: /readyz decides)" : '"msg":"started"',
        async () => (await fetch(`http://127.0.0.1:${port}${probe}`)).ok,
      ),
    );
  }
  const consolePort = opts.consoleProcess ? await freePort() : undefined;
  if (consolePort)
    apis.push(
      await spawnNode(
        ENTRY,
        ["console"],
        { ...env, PORT: String(consolePort) },
        '"msg":"started"',
        async () => (await fetch(`http://127.0.0.1:${consolePort}/healthz`)).ok,
      ),
    );
  const workers: ChildProcess[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) workers.push(await spawnNode(ENTRY, ["worker"], env, '"msg":"started"'));
  const readyMs = Date.now() - started;
  const balancer = apiPorts.length > 1 ? await startLoadBalancer({ dataDir: services.dataDir, backends: apiPorts }) : undefined;
  const apiPort = balancer ? balancer.port : apiPorts[0]!;
  const api = apis[0]!;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
  };
  const subscribe = async (sub: { url: string; setSecret(s: string): void }, body: Record<string, unknown> = {}) => {
    const created = await admin("POST", "/subscriptions", { url: sub.url, eventTypes: ["reservation.*"], ...body });
    sub.setSecret(created.secret as string);
    return created.id as string;
  };
  const broker = opts.destination ? await startBrokerConsumer(opts.destination, services.dataDir) : undefined;
  const subscriptionId = broker
    ? ((await admin("POST", "/subscriptions", { destination: broker.destination, eventTypes: ["reservation.*"] })).id as string)
    : await subscribe(main);

  return {
    services,
    apiPort,
    api,
    apis,
    worker: workers[0]!,
    workers,
    readyMs,
    consolePort,
    balancer,
    brokerPid: broker?.pid,
    seen: broker?.seen ?? main.seen,
    latencies: broker?.latencies ?? main.latencies,
    arrivals: broker ? new Map() : main.arrivals,
    rejected: () => main.rejected() + extra.reduce((n, s) => n + s.rejected(), 0),
    signedRequest,
    outOfOrder: broker?.outOfOrder ?? main.outOfOrder,
    subscriptionId,
    async addSubscriber(o = {}) {
      const sub = await startSubscriber(o.delayMs ?? 0);
      const id = await subscribe(sub, o.body);
      const entry = { ...sub, id };
      extra.push(entry);
      return entry;
    },
    async changeSubscription(id, change) {
      await admin("PATCH", `/subscriptions/${id}`, change);
    },
    async deleteSubscription(id) {
      await admin("DELETE", `/subscriptions/${id}`);
    },
    async stop() {
      await balancer?.stop();
      for (const a of apis) await stopChild(a);
      for (const w of workers) await stopChild(w);
      await main.close();
      await broker?.close();
      for (const s of extra) await s.close();
      await services.cleanup();
    },
  };
}
