// Shared bench plumbing: private Postgres + Redis (durable settings, fsync on), child processes, printing.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, cpus, loadavg, totalmem } from "node:os";
import path from "node:path";
import { migrate } from "../src/db/migrate.js";
import { createDatabase, freePort, startPostgres, startRedis, type LocalServer } from "../scripts/lib/local-services.js";
import { startPgBouncer, startRedisCluster, startRedisSentinel } from "../scripts/lib/topologies.js";

export const root = path.resolve(import.meta.dirname, "..");

export type RedisKind = "single" | "cluster" | "sentinel";

export interface BenchEnv {
  /** What the service connects to: through PgBouncer when the bench runs with it. */
  databaseUrl: string;
  /** Postgres itself (migrations, the bench's own counters). */
  directDatabaseUrl: string;
  /** The single node's URL (the single topology only; the other benches use it). */
  redisUrl: string;
  /** The service's Redis variables for the chosen topology. */
  redisEnv: Record<string, string>;
  /** Every Redis process (data nodes and sentinels), for CPU figures. */
  redisPids(): number[];
  /** The PgBouncer process, when there is one. */
  bouncerPid?: number;
  pg: LocalServer;
  redis: LocalServer;
  servers: LocalServer[];
  /** A scratch directory for this run (removed by cleanup). */
  dataDir: string;
  cleanup(): Promise<void>;
}

/** `--redis single|cluster|sentinel` and `--pgbouncer` on any bench that passes its arguments here. */
export function topologyArgs(args: Map<string, string>): { redis: RedisKind; pgbouncer: boolean } {
  const redis = (args.get("redis") || "single") as RedisKind;
  if (!["single", "cluster", "sentinel"].includes(redis)) throw new Error(`--redis must be single, cluster or sentinel, not ${redis}`);
  return { redis, pgbouncer: args.has("pgbouncer") };
}

export async function benchServices(opts: { statStatements?: boolean | "planning"; redis?: RedisKind; pgbouncer?: boolean } = {}): Promise<BenchEnv> {
  const dir = mkdtempSync(path.join(tmpdir(), "hub-bench-"));
  chmodSync(dir, 0o755);
  const settings = opts.statStatements
    ? {
        shared_preload_libraries: "pg_stat_statements",
        "pg_stat_statements.track": "all",
        ...(opts.statStatements === "planning" ? { "pg_stat_statements.track_planning": "on" } : {}),
      }
    : undefined;
  const kind = opts.redis ?? "single";
  const [pg, redis, cluster, sentinel] = await Promise.all([
    startPostgres({ dataDir: path.join(dir, "pg"), settings }),
    startRedis({ dataDir: path.join(dir, "redis") }),
    kind === "cluster" ? startRedisCluster({ dataDir: path.join(dir, "cluster") }) : undefined,
    kind === "sentinel" ? startRedisSentinel({ dataDir: path.join(dir, "sentinel") }) : undefined,
  ]);
  const directDatabaseUrl = await createDatabase(pg.url, "bench");
  await migrate(directDatabaseUrl, path.join(root, "prisma/migrations"));
  const bouncer = opts.pgbouncer ? await startPgBouncer({ dataDir: path.join(dir, "pgbouncer"), postgresPort: pg.port, poolSize: 40 }) : undefined;
  const redisEnv: Record<string, string> = cluster
    ? { REDIS_CLUSTER_NODES: cluster.nodesEnv }
    : sentinel
      ? { REDIS_SENTINELS: sentinel.sentinelsEnv, REDIS_SENTINEL_MASTER: sentinel.master }
      : { REDIS_URL: redis.url };
  return {
    databaseUrl: bouncer ? bouncer.route(directDatabaseUrl) : directDatabaseUrl,
    directDatabaseUrl,
    redisUrl: redis.url,
    redisEnv,
    redisPids: () => (cluster ? cluster.nodes : sentinel ? [sentinel.primary, sentinel.replica, ...sentinel.sentinels] : [redis]).map((n) => n.pid ?? 0),
    bouncerPid: bouncer?.pid,
    pg,
    redis,
    servers: [pg, redis],
    dataDir: dir,
    async cleanup() {
      await bouncer?.stop();
      await Promise.allSettled([pg.stop(), redis.stop(), cluster?.stop(), sentinel?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a TS entry point; ready when its stdout shows `readyText`, or when `readyProbe` answers true. */
export async function spawnNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  readyText: string,
  readyProbe?: () => Promise<boolean>,
): Promise<ChildProcess> {
  // PROFILE_DIR=/tmp/prof writes a V8 CPU profile of the api/worker children (open in Chrome DevTools);
  // PROFILE_INTERVAL_US samples more often than V8's default 1 ms.
  const interval = process.env.PROFILE_INTERVAL_US ? [`--cpu-prof-interval=${process.env.PROFILE_INTERVAL_US}`] : [];
  const profile = process.env.PROFILE_DIR && /^(src|dist)\//.test(script) ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE_DIR}`, ...interval] : [];
  // TypeScript sources run through tsx; a built .js file runs as it is.
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...profile, ...loader, path.join(root, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    const onData = (b: Buffer) => {
      seen += b.toString();
      if (seen.includes(readyText)) {
        // From here on the output is discarded (but drained, so the child never blocks on a full pipe).
        seen = "";
        resolve();
      }
      if (seen.length > 1_000_000) seen = seen.slice(-10_000);
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
    if (readyProbe) {
      const poll = async () => {
        if (await readyProbe().catch(() => false)) resolve();
        else setTimeout(poll, 100);
      };
      void poll();
    }
  });
  return child;
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

export { freePort };

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU time (user + system, ms) of a process, and of every process whose parent it is (Postgres backends). */
export function cpuMs(pid: number, withChildren = false): number {
  const ticks = (p: number) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
      return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      return 0; // exited
    }
  };
  let total = ticks(pid);
  if (withChildren) {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
        if (ppid === pid) total += ticks(Number(entry));
      } catch {
        // gone between readdir and read
      }
    }
  }
  return (total * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU ms of every process in a process group (a broker started detached: its script, the VM and its helpers). */
export function groupCpuMs(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (Number(fields[2]) === pgid) total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone between readdir and read
    }
  }
  return (total * 1000) / CLOCK_TICKS;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// The fixed piece of work speedMs times, in a fresh Node process each time: the same code in the same state
// (the bench's own heap and JIT would otherwise change what it costs). Warmed up, then timed three times by
// the CPU time of its main thread (Node's compiler and GC threads left out); the median is printed.
const SPEED_PROBE = `
const { createHmac } = require("node:crypto");
const body = Buffer.alloc(2048, 7);
const object = { text: "x".repeat(500), items: Array.from({ length: 50 }, (_, i) => ({ i, name: "item-" + i })) };
const unit = () => { createHmac("sha256", "calibration").update(body).digest("hex"); JSON.parse(JSON.stringify(object)); };
const cpu = () => { const u = process.threadCpuUsage ? process.threadCpuUsage() : process.cpuUsage(); return (u.user + u.system) / 1000; };
for (let i = 0; i < 10000; i++) unit();
const times = [];
for (let round = 0; round < 3; round++) { const before = cpu(); for (let i = 0; i < 5000; i++) unit(); times.push(cpu() - before); }
console.log(times.sort((a, b) => a - b)[1].toFixed(0));
`;

/**
 * How fast each of this machine's CPUs is right now: the CPU ms one thread spends on a fixed piece of work
 * (5,000 times an HMAC-SHA256 of 2 KB and a JSON round trip of a 2 KB object, what every event costs the hub
 * a few times over), pinned to each CPU in turn (`taskset`), e.g. "87 · 62". The same work should take the
 * same time everywhere; here it has not: one vCPU of this 2-core machine has run it 40 % slower than the other
 * for a minute or more, and a process the scheduler keeps there pays as much more per event. Measured on a
 * quiet machine (between runs, after a phase has drained): under load it would measure the load.
 */
export function speedMs(): string {
  return cpus()
    .map((_, cpu) => {
      try {
        return execFileSync("taskset", ["-c", String(cpu), process.execPath, "-e", SPEED_PROBE], { encoding: "utf8" }).trim();
      } catch {
        return "?"; // no taskset (util-linux) here
      }
    })
    .join(" · ");
}

/** The machine's CPU time so far (all cores, in ticks) and the part of it the hypervisor gave to other guests (steal). */
export function cpuTimes(): { total: number; steal: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

/** Steal between two readings, in % of the machine's CPU time. */
export function stealPercent(from: { total: number; steal: number }, to: { total: number; steal: number }): string {
  return ((100 * (to.steal - from.steal)) / Math.max(1, to.total - from.total)).toFixed(1);
}

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/**
 * Open-loop load at a steady rate: one request every 1/rate s on a keep-alive pool, each sent on schedule
 * whatever the previous ones are doing (autocannon's overallRate splits the rate across its connections,
 * which tick together and send in bursts). `make` builds each request at its send time.
 */
export async function openLoop(opts: {
  url: string;
  rate: number;
  durationS: number;
  make: () => { path: string; headers: Record<string, string>; body: string };
}): Promise<{ sent: number; ok: number; failed: number; latencies: number[] }> {
  const { request, Agent } = await import("node:http");
  const target = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const result = { sent: 0, ok: 0, failed: 0, latencies: [] as number[] };
  const total = Math.round(opts.rate * opts.durationS);
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  const send = () => {
    const { path: p, headers, body } = opts.make();
    const t0 = performance.now();
    result.sent += 1;
    const done = new Promise<void>((resolve) => {
      const req = request({ host: target.hostname, port: target.port, path: p, method: "POST", headers, agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode && res.statusCode < 300) result.ok += 1;
          else result.failed += 1;
          result.latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.on("error", () => {
        result.failed += 1;
        resolve();
      });
      req.end(body);
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
  };
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    send();
  }
  await Promise.all([...pending]);
  agent.destroy();
  result.latencies.sort((a, b) => a - b);
  return result;
}

/**
 * `total` events spread over days 1..92 ago (`reservation/seed-<i>`, realistic envelopes, positions -i), each
 * delivered once to `subscriptionId` (succeeded, one attempt), written 100,000 at a time in SQL.
 */
export async function seedDeliveredEvents(q: (text: string, params?: unknown[]) => Promise<unknown>, total: number, subscriptionId: string): Promise<void> {
  for (let from = 0; from < total; from += 100_000) {
    const to = Math.min(total, from + 100_000);
    await q(
      `WITH ev AS (
         INSERT INTO events (id, position, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, created_at, relayed_at)
         SELECT gen_random_uuid(), -i, 'flovi', 'reservation.created', 'reservation/seed-' || i, 'reservation', 'seed-' || i, 1,
                now() - (1 + 91.0 * i / $3) * interval '1 day', 'seed:' || i,
                jsonb_build_object('specversion', '1.0', 'id', md5(i::text), 'source', 'flovi', 'type', 'reservation.created',
                  'subject', 'reservation/seed-' || i, 'time', now(), 'datacontenttype', 'application/json',
                  'data', jsonb_build_object('entity', 'reservation', 'entityId', 'seed-' || i, 'externalId', 'WO-' || i, 'status', 'created',
                    'previousStatus', null, 'phase', 'booked', 'providerStatus', 'created', 'sequence', 1, 'details', '{}'::jsonb)),
                now() - (1 + 91.0 * i / $3) * interval '1 day', now()
           FROM generate_series($1::int, $2::int - 1) AS i
         RETURNING id, created_at
       ), dl AS (
         INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, attempts, last_status_code, created_at, updated_at, completed_at)
         SELECT gen_random_uuid(), ev.id, $4::uuid, 'succeeded', 1, 204, ev.created_at, ev.created_at, ev.created_at FROM ev
         RETURNING id, created_at
       )
       INSERT INTO delivery_attempts (webhook_delivery_id, attempt, attempted_at, duration_ms, status_code)
       SELECT dl.id, 1, dl.created_at, 12, 204 FROM dl`,
      [from, to, total, subscriptionId],
    );
  }
}

/**
 * `total` reservations in `created` (open: a snapshot lists them), each with its `reservation.created` event,
 * relayed, at positions below a million below zero (clear of seedDeliveredEvents' and of a consumer's cursor).
 */
export async function seedOpenReservations(q: (text: string, params?: unknown[]) => Promise<unknown>, total: number): Promise<void> {
  for (let from = 0; from < total; from += 50_000) {
    const to = Math.min(total, from + 50_000);
    await q(
      `WITH r AS (
         INSERT INTO reservations (id, external_id, state, sequence, last_changed_at, updated_at)
         SELECT 'open-' || lpad(i::text, 7, '0'), 'WO-' || i, 'created', 1, now(), now() FROM generate_series($1::int, $2::int - 1) AS i
         RETURNING id, external_id
       )
       INSERT INTO events (id, position, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, relayed_at)
       SELECT gen_random_uuid(), -1000000 - substr(r.id, 6)::bigint, 'flovi', 'reservation.created', 'reservation/' || r.id, 'reservation', r.id, 1, now(), 'open:' || r.id,
              jsonb_build_object('specversion', '1.0', 'id', md5(r.id), 'source', 'flovi', 'type', 'reservation.created',
                'subject', 'reservation/' || r.id, 'time', now(), 'datacontenttype', 'application/json',
                'data', jsonb_build_object('entity', 'reservation', 'entityId', r.id, 'externalId', r.external_id, 'status', 'created',
                  'previousStatus', null, 'phase', 'booked', 'providerStatus', 'created', 'sequence', 1, 'timeSource', 'provider',
                  'details', jsonb_build_object('vehicle', jsonb_build_object('make', 'Renault', 'model', 'Clio'), 'origin', 'Lyon', 'destination', 'Paris'))),
              now()
         FROM r`,
      [from, to],
    );
  }
}
