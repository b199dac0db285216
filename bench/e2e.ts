// End to end, in the real topology: a signing sender (autocannon) → api process → Postgres/Redis → worker
// process → a verifying subscriber (standardwebhooks) in this process. For each steady rate, and at
// saturation, it prints latency percentiles (webhook sent → verified POST received), delivered events per
// second, CPU ms per event for every process (from /proc), and Postgres statements and transactions per
// event (pg_stat_statements and pg_stat_database; the bench's Postgres loads the extension).
//   npm run bench:e2e [-- --rates 10,50,100,300 --duration 10 --runs 3]
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { benchServices, cpuMs, freePort, loadAverage, machine, median, percentile, spawnNode, stopChild } from "./lib.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const rates = (args.get("rates") ?? "10,50,100,300").split(",").map(Number);
const duration = Number(args.get("duration") ?? 10);
const runs = Number(args.get("runs") ?? 1);
const SECRET = "bench-secret";
const ADMIN = "bench-admin-token-0123456789";

type Row = Record<string, string | number>;

async function run(index: number): Promise<Row[]> {
  console.log(`\nrun ${index + 1}/${runs}: load average before ${loadAverage()}`);
  const latencies: number[] = [];
  const seen = new Set<string>();
  let rejected = 0;
  let subscriberSecret = "";
  const subscriber = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const event = new Webhook(subscriberSecret).verify(Buffer.concat(chunks).toString("utf8"), req.headers as Record<string, string>) as {
          id: string;
          data: { entityId: string };
        };
        if (!seen.has(event.id)) {
          seen.add(event.id);
          latencies.push(Date.now() - Number(event.data.entityId.split("-")[1]));
        }
        res.writeHead(204).end();
      } catch {
        rejected += 1;
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((r) => subscriber.listen(0, "127.0.0.1", r));
  const subscriberUrl = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/hook`;

  let counter = 0;
  const signedRequest = () => {
    counter += 1;
    // The reservation id carries the send time, so the subscriber can measure end-to-end latency.
    const body = JSON.stringify({ event: "reservation_status_change", reservationId: `e2e-${Date.now()}-${counter}`, state: "created" });
    return {
      method: "POST" as const,
      path: "/webhooks/flovi",
      headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
      body,
    };
  };

  const services = await benchServices({ statStatements: true });
  const stats = new pg.Client({ connectionString: services.pg.url });
  await stats.connect();
  await stats.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const apiPort = await freePort();
  const env = {
    NODE_ENV: "development",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    HOST: "127.0.0.1",
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    DATABASE_POOL_SIZE: "20",
    FLOVI_WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: ADMIN,
    WORKER_CONCURRENCY: "16",
  };
  const api = await spawnNode("src/main.ts", ["api"], { ...env, PORT: String(apiPort) }, '"msg":"started"', async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok);
  const worker = await spawnNode("src/main.ts", ["worker"], env, '"msg":"started"');

  const sample = async () => {
    const { rows } = await stats.query<{ statements: string; commits: string }>(
      `SELECT (SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'bench') AS statements,
              (SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench') AS commits`,
    );
    const self = process.cpuUsage();
    return {
      statements: Number(rows[0]!.statements),
      commits: Number(rows[0]!.commits),
      api: cpuMs(api.pid!),
      worker: cpuMs(worker.pid!),
      postgres: cpuMs(services.pg.pid!, true),
      redis: cpuMs(services.redis.pid!),
      bench: (self.user + self.system) / 1000,
    };
  };

  async function phase(title: string, opts: { overallRate?: number; connections: number }): Promise<Row> {
    latencies.length = 0;
    const before = seen.size;
    await new Promise((r) => setTimeout(r, 500)); // pg_stat_database is refreshed at most twice a second
    const start = await sample();
    const started = Date.now();
    const result = await autocannon({
      url: `http://127.0.0.1:${apiPort}`,
      connections: opts.connections,
      duration,
      overallRate: opts.overallRate,
      requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }],
    });
    const accepted = result["2xx"];
    const deadline = Date.now() + 120_000;
    while (seen.size - before < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const drainedMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 600));
    const end = await sample();
    const delivered = seen.size - before;
    const per = (k: keyof typeof start) => ((end[k] - start[k]) / Math.max(delivered, 1)).toFixed(2);
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      phase: title,
      "accepted/s": Math.round(accepted / duration),
      "delivered/s": Math.round((delivered / drainedMs) * 1000),
      lost: accepted - delivered,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      "stmts/ev": per("statements"),
      "xacts/ev": per("commits"),
      "cpu api": per("api"),
      "cpu worker": per("worker"),
      "cpu pg": per("postgres"),
      "cpu redis": per("redis"),
      "cpu total": ((["api", "worker", "postgres", "redis"] as const).reduce((sum, k) => sum + end[k] - start[k], 0) / Math.max(delivered, 1)).toFixed(2),
      "cpu bench": per("bench"),
    };
  }

  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ url: subscriberUrl, eventTypes: ["reservation.*"] }),
    });
    subscriberSecret = ((await res.json()) as { secret: string }).secret;
    await autocannon({ url: `http://127.0.0.1:${apiPort}`, connections: 10, duration: 2, overallRate: 50, requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }] });
    const rows: Row[] = [];
    for (const rate of rates) rows.push(await phase(`${rate}/s`, { overallRate: rate, connections: 50 }));
    rows.push(await phase("saturation", { connections: 50 }));
    console.table(rows);
    if (rejected > 0) console.log(`signature failures at the subscriber: ${rejected}`);
    return rows;
  } finally {
    await stopChild(api);
    await stopChild(worker);
    await stats.end();
    subscriber.close();
    await services.cleanup();
  }
}

console.log(`machine: ${machine()}; api + worker processes (tsx), ${duration} s per phase, LOG_LEVEL=${process.env.LOG_LEVEL ?? "info"}`);
console.log("latency in ms (sent → verified at the subscriber); cpu in ms per delivered event; stmts and xacts per delivered event");
const all: Row[][] = [];
for (let i = 0; i < runs; i++) all.push(await run(i));
if (runs > 1) {
  console.log(`\nmedian of ${runs} runs`);
  console.table(
    all[0]!.map((row, r) =>
      Object.fromEntries(Object.keys(row).map((k) => [k, k === "phase" ? row[k]! : median(all.map((run) => Number(run[r]![k])))])),
    ),
  );
}
