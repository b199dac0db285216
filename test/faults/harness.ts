// The fault suite's world: private Postgres and Redis that a scenario can stop and start, the real api and
// worker processes (`src/main.ts api|worker`) that it can SIGKILL or SIGTERM, a verifying subscriber, a
// client that sends signed webhooks the way Flovi does (retrying 5xx and network errors), and the end-state
// checks: every accepted webhook processed once, every expected event delivered, none with two ids.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { migrate } from "../../src/db/migrate.js";
import type net from "node:net";
import { createDatabase, freePort, startPostgres, startRedis, type LocalServer } from "../../scripts/lib/local-services.js";
import { startPostgresPair, type PostgresPair } from "../../scripts/lib/pg-failover.js";
import { startBalancer, startRedisCluster, startRedisSentinel, type RedisCluster, type RedisSentinelSet } from "../../scripts/lib/topologies.js";
import { BUSY_SQL } from "../helpers/context.js";
import { startSubscriber, type Received, type Subscriber } from "../helpers/subscriber.js";

const root = path.resolve(import.meta.dirname, "../..");
export const SECRET = "fault-secret";
export const ADMIN = "fault-admin-token-0123456789";

export interface Proc {
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

export interface World {
  pg: LocalServer;
  /** The single Redis node (topology "single"). */
  redis: LocalServer;
  /** The Sentinel set or the Cluster, when the world runs on one. */
  sentinel?: RedisSentinelSet;
  cluster?: RedisCluster;
  /** The primary, its standby and HAProxy in front, when the world runs on them (`pg` is the primary). */
  pgPair?: PostgresPair;
  databaseUrl: string;
  /** Where clients send: the api, or the load balancer in front of every api process once there are several. */
  apiPort: number;
  api?: Proc;
  apis: Proc[];
  workers: Proc[];
  subscriber: Subscriber;
  db: pg.Pool;
  startApi(extra?: Record<string, string>): Promise<Proc>;
  /** Another api process on its own port; from the second one on, apiPort is a round-robin TCP balancer. */
  addApi(extra?: Record<string, string>): Promise<Proc>;
  startWorker(extra?: Record<string, string>): Promise<Proc>;
  close(): Promise<void>;
}

export async function createWorld(
  opts: { env?: Record<string, string>; redis?: "single" | "sentinel" | "cluster-with-replicas"; postgres?: "single" | "sync-standby" | "async-standby" } = {},
): Promise<World> {
  const dir = mkdtempSync(path.join(tmpdir(), "hub-fault-"));
  const { chmodSync } = await import("node:fs");
  chmodSync(dir, 0o755);
  const topology = opts.redis ?? "single";
  const pgPair =
    opts.postgres && opts.postgres !== "single"
      ? await startPostgresPair({ dataDir: path.join(dir, "pg-pair"), synchronous: opts.postgres === "sync-standby" })
      : undefined;
  const [pgServer, redis, sentinel, cluster] = await Promise.all([
    pgPair ? pgPair.primary : startPostgres({ dataDir: path.join(dir, "pg"), ephemeral: true }),
    startRedis({ dataDir: path.join(dir, "redis") }),
    topology === "sentinel" ? startRedisSentinel({ dataDir: path.join(dir, "sentinel") }) : undefined,
    topology === "cluster-with-replicas" ? startRedisCluster({ dataDir: path.join(dir, "cluster"), replicas: 1 }) : undefined,
  ]);
  const redisEnv: Record<string, string> = sentinel
    ? { REDIS_SENTINELS: sentinel.sentinelsEnv, REDIS_SENTINEL_MASTER: sentinel.master }
    : cluster
      ? { REDIS_CLUSTER_NODES: cluster.nodesEnv }
      : { REDIS_URL: redis.url };
  // With a standby, everything (the service, migrations, the checks) goes through HAProxy, as in production.
  const databaseUrl = await createDatabase(pgPair ? pgPair.url("postgres") : pgServer.url, "hub");
  await migrate(databaseUrl, path.join(root, "prisma/migrations"));
  const apiPort = await freePort();
  const subscriber = await startSubscriber();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on("error", () => undefined);

  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    HOST: "127.0.0.1",
    PORT: String(apiPort),
    DATABASE_URL: databaseUrl,
    ...redisEnv,
    QUEUE_PREFIX: "faults",
    FLOVI_WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: ADMIN,
    // Good and bad senders share 127.0.0.1 here: the per-address refusal is tested on its own.
    WEBHOOK_BAD_SIGNATURE_LIMIT: "0",
    INBOUND_SWEEP_INTERVAL_MS: "1000",
    OUTBOX_SWEEP_INTERVAL_MS: "1000",
    DELIVERY_RETRY_SCHEDULE: "0,500ms,1s,2s,3s,3s,3s,3s,3s,3s,3s,3s,3s,3s,3s",
    JOB_LOCK_MS: "4000",
    SHUTDOWN_TIMEOUT_MS: "15000",
    WORKER_CONCURRENCY: "16",
    DATABASE_POOL_SIZE: "20",
    ...opts.env,
  };

  function launch(role: "api" | "worker", extra: Record<string, string> = {}): Promise<Proc> {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), role], {
      env: { ...process.env, ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const proc: Proc = { child, output: "", exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))) };
    const keep = (b: Buffer) => {
      proc.output += b.toString();
      if (proc.output.length > 2_000_000) proc.output = proc.output.slice(-200_000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} did not start:\n${proc.output.slice(-2000)}`)), 30_000);
      const check = setInterval(() => {
        if (proc.output.includes('"msg":"started"')) {
          clearInterval(check);
          clearTimeout(timer);
          resolve(proc);
        }
      }, 50);
      void proc.exited.then((code) => {
        clearInterval(check);
        clearTimeout(timer);
        reject(new Error(`${role} exited with ${code} during start:\n${proc.output.slice(-2000)}`));
      });
    });
  }

  let balancer: net.Server | undefined;
  const world: World = {
    pg: pgServer,
    redis,
    sentinel,
    cluster,
    pgPair,
    databaseUrl,
    apiPort,
    apis: [],
    workers: [],
    subscriber,
    db,
    async startApi(extra) {
      world.api = await launch("api", extra);
      world.apis.push(world.api);
      return world.api;
    },
    async addApi(extra) {
      const port = await freePort();
      const proc = await launch("api", { PORT: String(port), ...extra });
      apiPorts.set(proc, port);
      world.apis.push(proc);
      if (!balancer) {
        apiPorts.set(world.apis[0]!, apiPort);
        balancer = await startBalancer(() => world.apis.filter((p) => p.child.exitCode === null && p.child.signalCode === null).map((p) => apiPorts.get(p)!));
        world.apiPort = (balancer.address() as net.AddressInfo).port;
      }
      return proc;
    },
    async startWorker(extra) {
      const worker = await launch("worker", extra);
      world.workers.push(worker);
      return worker;
    },
    async close() {
      balancer?.close();
      for (const p of [...world.apis, ...world.workers]) {
        if (p && p.child.exitCode === null && p.child.signalCode === null) {
          p.child.kill("SIGKILL");
          await p.exited;
        }
      }
      await db.end().catch(() => undefined);
      await subscriber.close();
      await Promise.allSettled([redis.stop(), pgPair ? pgPair.stop() : pgServer.stop(), sentinel?.stop(), cluster?.stop()]);
    },
  };
  const apiPorts = new Map<Proc, number>();
  return world;
}

export async function subscribeAll(world: World): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${world.apiPort}/subscriptions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ url: world.subscriber.url, eventTypes: ["reservation.*"] }),
  });
  if (res.status !== 201) throw new Error(`subscribe failed: ${res.status}`);
  world.subscriber.secrets.push(((await res.json()) as { secret: string }).secret);
}

/** The same bytes every time for one reservation and state, as a sender's retry would be. */
export function signedWebhook(reservationId: string, state = "created") {
  const body = JSON.stringify({ event: "reservation_status_change", reservationId, state, occurredAt: "2026-06-01T08:00:00.000Z" });
  return { body, signature: `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` };
}

export interface SendResult {
  /** Reservation id → the delivery id of the 202 that accepted it. */
  accepted: Map<string, string>;
  /** Reservation id → when its 202 arrived (ms since the epoch). */
  acceptedAt: Map<string, number>;
  /** Every non-2xx answer, by status ("network" for connection errors). */
  refusals: Map<string, number>;
  /** When each refusal happened (ms since the epoch), to tell how long an outage refused. */
  refusedAt: number[];
}

/**
 * Sends one `created` webhook per reservation id with bounded concurrency, like Flovi: a 5xx or a network
 * error is retried after a pause until accepted (or until `giveUpAt`).
 */
/** Posts one signed body until it is answered 202 (retrying refusals and network errors); returns the delivery id. */
async function postUntilAccepted(world: World, body: string, signature: string, giveUpAt: number, refuse: (why: string) => void): Promise<string> {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${world.apiPort}/webhooks/flovi`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature": signature },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const answer = (await res.json().catch(() => ({}))) as { id?: string };
      if (res.status === 202 && answer.id) return answer.id;
      refuse(String(res.status));
    } catch {
      refuse("network");
    }
    if (Date.now() > giveUpAt) throw new Error("a webhook was never accepted");
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Sends each reservation's states in order (default: just `created`), each only after the previous one was
 * answered 202, so receipt order is the true order. Lanes run reservations in parallel.
 */
/**
 * Sends the webhooks over `concurrency` lanes until each is accepted. The promise carries `progress` (what was
 * accepted or refused so far), so a scenario injects its fault after so much traffic, not after so much time.
 */
export function sendWebhooks(
  world: World,
  ids: string[],
  opts: { concurrency?: number; giveUpAt?: number; states?: string[]; perSecond?: number } = {},
): Promise<SendResult> & { progress: SendResult } {
  const result: SendResult = { accepted: new Map(), acceptedAt: new Map(), refusals: new Map(), refusedAt: [] };
  // At most `perSecond` webhooks a second: each one waits for its slot, as a steady source would send them.
  const started = Date.now();
  let slots = 0;
  const paced = async () => {
    if (!opts.perSecond) return;
    const due = started + (slots++ * 1000) / opts.perSecond;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  };
  const queue = [...ids];
  const giveUpAt = opts.giveUpAt ?? Date.now() + 120_000;
  const refuse = (why: string) => {
    result.refusals.set(why, (result.refusals.get(why) ?? 0) + 1);
    result.refusedAt.push(Date.now());
  };
  async function lane() {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const state of opts.states ?? ["created"]) {
        await paced();
        const { body, signature } = signedWebhook(id, state);
        const deliveryId = await postUntilAccepted(world, body, signature, giveUpAt, refuse);
        const key = opts.states ? `${id}:${state}` : id;
        result.accepted.set(key, deliveryId);
        result.acceptedAt.set(key, Date.now());
      }
    }
  }
  const done = Promise.all(Array.from({ length: opts.concurrency ?? 20 }, lane)).then(() => result);
  return Object.assign(done, { progress: result });
}

/** Polls `probe` until it holds; throws naming `what` after `timeoutMs`. */
export async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Nothing left that could still send: no stored webhook waiting, no event without its log position, no
 * delivery pending. A duplicate would need one of those, so what the subscriber has now is final.
 */
export function settled(world: World, timeoutMs = 60_000): Promise<void> {
  return until(async () => (await count(world, BUSY_SQL).catch(() => 1)) === 0, "the pipeline to settle", timeoutMs);
}

/** Waits until every reservation's states arrived, then lists what is wrong: a state missing, twice, or out of sequence. */
export async function expectWalksInOrder(world: World, ids: string[], states: string[], timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  const eventsOf = () => {
    const bySubject = new Map<string, Map<string, Received["event"]>>();
    for (const r of world.subscriber.received) {
      const events = bySubject.get(r.event.subject) ?? new Map();
      events.set(r.event.id, r.event);
      bySubject.set(r.event.subject, events);
    }
    return bySubject;
  };
  while (ids.some((id) => (eventsOf().get(`reservation/${id}`)?.size ?? 0) < states.length)) {
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await settled(world); // nothing left that could send a duplicate
  const problems: string[] = [];
  const bySubject = eventsOf();
  for (const id of ids) {
    const events = [...(bySubject.get(`reservation/${id}`)?.values() ?? [])].sort((a, b) => a.data.sequence - b.data.sequence);
    const got = events.map((e) => `${e.data.sequence}:${e.data.status}`).join(",");
    const want = states.map((s, i) => `${i + 1}:${s}`).join(",");
    if (got !== want) problems.push(`${id}: got ${got || "nothing"}, want ${want}`);
  }
  for (const r of world.subscriber.received) if (r.webhookId !== r.event.id) problems.push(`webhook-id ${r.webhookId} differs from event id ${r.event.id}`);
  const { rows } = await world.db.query<{ outcome: string; n: string }>("SELECT outcome, count(*) AS n FROM reservation_transitions GROUP BY outcome");
  const outcomes = Object.fromEntries(rows.map((r) => [r.outcome, Number(r.n)]));
  if (JSON.stringify(outcomes) !== JSON.stringify({ applied: ids.length * states.length })) problems.push(`transition outcomes ${JSON.stringify(outcomes)}`);
  return { problems: problems.slice(0, 20), redeliveries: world.subscriber.received.length - ids.length * states.length };
}

export const reservationIds = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}-${randomUUID().slice(0, 6)}`);

async function count(world: World, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await world.db.query<{ n: string }>(sql, params);
  return Number(rows[0]!.n);
}

/**
 * Waits until every accepted webhook is processed and every event verified at the subscriber, then checks
 * the invariants: processed exactly once, one event per reservation, each event delivered under one id.
 */
export async function expectExactlyOnce(world: World, accepted: Map<string, string>, timeoutMs = 120_000) {
  const ids = [...accepted.keys()];
  const deadline = Date.now() + timeoutMs;
  const delivered = () => new Set(world.subscriber.received.map((r) => r.event.subject));
  for (;;) {
    const processed = await count(world, "SELECT count(*) AS n FROM inbound_deliveries WHERE status = 'processed' AND id = ANY($1::uuid[])", [
      [...accepted.values()],
    ]).catch(() => -1);
    const got = delivered();
    if (processed === ids.length && ids.every((id) => got.has(`reservation/${id}`))) break;
    if (Date.now() > deadline) {
      const tails = [world.api, ...world.workers]
        .filter((p): p is Proc => p !== undefined)
        .map((p) =>
          p.output
            .split("\n")
            .filter((l) => /"level":(40|50|60)/.test(l))
            .slice(-6)
            .join("\n"),
        );
      throw new Error(
        `not everything arrived: processed ${processed}/${ids.length}, delivered ${ids.filter((id) => got.has(`reservation/${id}`)).length}/${ids.length}\n${tails.join("\n---\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await settled(world); // nothing left that could send a duplicate
  const problems: string[] = [];
  const stored = await count(world, "SELECT count(*) AS n FROM inbound_deliveries");
  if (stored !== ids.length) problems.push(`${stored} deliveries stored for ${ids.length} distinct webhooks`);
  const transitions = await count(world, "SELECT count(*) AS n FROM reservation_transitions");
  if (transitions !== ids.length) problems.push(`${transitions} transitions for ${ids.length} webhooks (processed more than once?)`);
  const events = await count(world, "SELECT count(*) AS n FROM events WHERE entity = 'reservation'");
  if (events !== ids.length) problems.push(`${events} events for ${ids.length} reservations`);
  const idsBySubject = new Map<string, Set<string>>();
  for (const r of world.subscriber.received) {
    const set = idsBySubject.get(r.event.subject) ?? new Set();
    set.add(r.webhookId);
    idsBySubject.set(r.event.subject, set);
    if (r.webhookId !== r.event.id) problems.push(`webhook-id ${r.webhookId} differs from event id ${r.event.id}`);
  }
  const twoIds = [...idsBySubject].filter(([, set]) => set.size > 1);
  if (twoIds.length > 0) problems.push(`${twoIds.length} events delivered under two ids, e.g. ${twoIds[0]![0]}`);
  const unexpected = [...idsBySubject.keys()].filter((s) => !accepted.has(s.replace("reservation/", "")));
  if (unexpected.length > 0) problems.push(`${unexpected.length} events for webhooks never accepted`);
  return {
    problems,
    deliveredOnce: world.subscriber.received.length,
    redeliveries: world.subscriber.received.length - idsBySubject.size,
  };
}
