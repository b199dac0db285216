// End to end, in the real topology: a signing sender (autocannon) → api process → Postgres/Redis → worker
// process → a verifying subscriber (standardwebhooks) in this process. For each steady rate, and at
// saturation, it prints latency percentiles (webhook sent → verified POST received), delivered events per
// second, CPU ms per event for every process (from /proc), and Postgres statements and transactions per
// event (pg_stat_statements and pg_stat_database; the bench's Postgres loads the extension).
//   npm run bench:e2e [-- --rates 10,50,100,300 --duration 10 --runs 3]
//   on another topology: --redis cluster|sentinel (3-master Cluster, or primary + replica + 3 sentinels),
//   --pgbouncer (every service connection through PgBouncer in transaction mode), --apis 2 --workers 3
//   (several processes; the apis behind haproxy, round robin, checking /readyz). CPU columns sum each role's processes.
//   --saturation 0 leaves out the saturation phase (a profile of the steady rates alone).
//   --statements 1: after each phase, its top statements in Postgres (calls, execution and planning time),
//   counted for that phase alone (pg_stat_statements is reset as it starts).
//   --stages: after each phase, where its events' time went (bench/stages.ts: ingress, to pass, to write, to send, send),
//   and when in the phase its slowest events were sent.
//   --destination rabbitmq|nats: the subscription publishes to a private RabbitMQ or NATS JetStream server, and a
//   consumer in this process reads the queue or stream (latency: webhook sent → message read); "cpu broker" is
//   the broker's own, apart from the hub's total.
//   --tracing: OpenTelemetry on in the api and worker processes, exporting OTLP/HTTP to a receiver this bench
//   starts (its CPU is the bench's, not the service's). With OTEL_EXPORTER_OTLP_PROTOCOL=http/json the
//   receiver reads the spans and the bench prints how many of each name one event costs.
import { execFileSync } from "node:child_process";
import autocannon from "autocannon";
import pg from "pg";
import { cpuMs, cpuTimes, groupCpuMs, loadAverage, machine, median, openLoop, percentile, speedMs, stealPercent, topologyArgs } from "./lib.js";
import { stageTable } from "./stages.js";
import { startTopology } from "./topology.js";
import { startFakeServer } from "../scripts/lib/fakes/http-server.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const rates = (args.get("rates") ?? "10,50,100,300").split(",").map(Number);
const duration = Number(args.get("duration") ?? 10);
const runs = Number(args.get("runs") ?? 1);
const topo = topologyArgs(args);
const apiCount = Number(args.get("apis") || 1);
const workerCount = Number(args.get("workers") || 1);
const tracing = args.has("tracing");
const destination = args.get("destination") as "rabbitmq" | "nats" | undefined;
if (destination && destination !== "rabbitmq" && destination !== "nats") throw new Error("--destination is rabbitmq or nats");

type Row = Record<string, string | number>;

function countSpans(body: string, into: Map<string, number>): void {
  type Resource = { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans?: { spans?: { name: string }[] }[] };
  const request = JSON.parse(body) as { resourceSpans?: Resource[] };
  for (const resource of request.resourceSpans ?? []) {
    const role = resource.resource?.attributes?.find((a) => a.key === "service.instance.role")?.value.stringValue ?? "?";
    for (const scope of resource.scopeSpans ?? [])
      for (const span of scope.spans ?? []) into.set(`${role}: ${span.name}`, (into.get(`${role}: ${span.name}`) ?? 0) + 1);
  }
}

async function run(index: number): Promise<Row[]> {
  console.log(
    `\nrun ${index + 1}/${runs}: load average before ${loadAverage()}; fixed work ${speedMs()} ms CPU per CPU (the machine's speed: bench/lib.ts speedMs)`,
  );
  let exported = 0;
  let exports = 0;
  // With OTEL_EXPORTER_OTLP_PROTOCOL=http/json the receiver can read the spans: it counts them by name.
  const spanNames = new Map<string, number>();
  const receiver = tracing
    ? await startFakeServer((req) => {
        exported += Buffer.byteLength(req.body);
        exports += 1;
        if (process.env.OTEL_EXPORTER_OTLP_PROTOCOL === "http/json") countSpans(req.body, spanNames);
        return { status: 200, body: {} };
      })
    : null;
  const otel: Record<string, string> = receiver ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "hub-bench" } : {};
  const topology = await startTopology({
    statStatements: args.has("statements") ? "planning" : true,
    ...topo,
    apis: apiCount,
    workers: workerCount,
    env: otel,
    destination,
  });
  const { services, apiPort, apis, workers, seen, latencies, arrivals, signedRequest } = topology;
  const sum = (pids: (number | undefined)[]) => pids.reduce<number>((total, pid) => total + (pid ? cpuMs(pid) : 0), 0);
  const stats = new pg.Client({ connectionString: services.pg.url });
  await stats.connect();
  await stats.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  // Counts accepted rows; its own statements are left out of the per-event figures below.
  const counts = new pg.Client({ connectionString: services.directDatabaseUrl, application_name: "bench-counter" });
  await counts.connect();

  const sample = async () => {
    // Statements: pg_stat_statements is updated as each statement ends. Commits: write transactions, from the
    // transaction id counter (read without taking an id); pg_stat_database's counters lag by seconds.
    // Foreign-key checks run inside statements (pg_stat_statements.track = all shows them): counted apart.
    const { rows } = await stats.query<{ statements: string; fk: string }>(
      `SELECT COALESCE(sum(calls) FILTER (WHERE s.query NOT LIKE '%FOR KEY SHARE OF x'), 0) AS statements,
              COALESCE(sum(calls) FILTER (WHERE s.query LIKE '%FOR KEY SHARE OF x'), 0) AS fk
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = 'bench' AND s.query NOT LIKE '%bench-counter%'`,
    );
    const xmax = await counts.query<{ x: string }>("SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x /* bench-counter */");
    const stored = await counts.query<{ n: string }>("SELECT count(*) AS n FROM inbound_deliveries /* bench-counter */");
    const self = process.cpuUsage();
    return {
      stored: Number(stored.rows[0]!.n),
      statements: Number(rows[0]!.statements),
      fkChecks: Number(rows[0]!.fk),
      commits: Number(xmax.rows[0]!.x),
      api: sum(apis.map((p) => p.pid)),
      worker: sum(workers.map((p) => p.pid)),
      postgres: cpuMs(services.pg.pid!, true),
      redis: sum(services.redisPids()),
      bouncer: sum([services.bouncerPid]),
      balancer: sum([topology.balancer?.pid]),
      broker: topology.brokerPid ? groupCpuMs(topology.brokerPid) : 0,
      bench: (self.user + self.system) / 1000,
    };
  };

  async function phase(title: string, opts: { overallRate?: number; connections: number }): Promise<Row> {
    latencies.length = 0;
    const before = seen.size;
    await new Promise((r) => setTimeout(r, 500)); // pg_stat_database is refreshed at most twice a second
    // --statements: each phase's own statements (the warm-up's and the phase before's left out).
    if (args.has("statements")) await stats.query("SELECT pg_stat_statements_reset() /* bench-counter */");
    const start = await sample();
    const machineBefore = cpuTimes();
    const started = Date.now();
    // A steady rate is sent open-loop; saturation is autocannon's closed loop on 50 connections.
    const ingress = opts.overallRate
      ? await openLoop({ url: `http://127.0.0.1:${apiPort}`, rate: opts.overallRate, durationS: duration, make: signedRequest }).then((r) => ({
          p50: percentile(r.latencies, 50),
          p99: percentile(r.latencies, 99),
        }))
      : await autocannon({
          url: `http://127.0.0.1:${apiPort}`,
          connections: opts.connections,
          duration,
          requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }],
        }).then((r) => ({ p50: r.latency.p50, p99: r.latency.p99 }));
    // Accepted = rows stored during the phase (autocannon does not count requests still in flight at its end).
    await new Promise((r) => setTimeout(r, 200));
    const accepted =
      ((await counts.query<{ n: string }>("SELECT count(*) AS n FROM inbound_deliveries /* bench-counter */")).rows[0]!.n as unknown as number) - start.stored;
    const deadline = Date.now() + 120_000;
    while (seen.size - before < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const drainedMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 600));
    const end = await sample();
    const steal = stealPercent(machineBefore, cpuTimes());
    const delivered = seen.size - before;
    const per = (k: Exclude<keyof typeof start, "stored">) => ((end[k] - start[k]) / Math.max(delivered, 1)).toFixed(2);
    const sorted = [...latencies].sort((a, b) => a - b);
    if (args.has("statements")) {
      // This phase's statements by time spent executing and planning, per delivered event (a plpgsql
      // function's own row includes the statements it ran, also listed apart).
      const top = await stats.query<{ calls: string; ms: string; plan: string; query: string }>(
        `SELECT calls, round(total_exec_time)::text AS ms, round(total_plan_time)::text AS plan, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
           FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
          WHERE d.datname = 'bench' AND s.query NOT LIKE '%bench-counter%' ORDER BY total_exec_time + total_plan_time DESC LIMIT 16`,
      );
      console.log(`${title}: the top statements in Postgres (${delivered} events delivered; ms per event = ms ÷ that)`);
      console.table(top.rows);
    }
    if (args.has("stages")) {
      const stages = await stageTable(counts, arrivals, started);
      console.log(`${title}: where the time went, ms; the slowest 1 % were sent at (s into the phase: how many) ${stages.when}`);
      console.table(stages.rows);
    }
    return {
      phase: title,
      "accepted/s": Math.round(accepted / duration),
      "delivered/s": Math.round((delivered / drainedMs) * 1000),
      lost: accepted - delivered,
      "in p50": Math.round(ingress.p50),
      "in p99": Math.round(ingress.p99),
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      "stmts/ev": per("statements"),
      "commits/ev": per("commits"),
      "fk/ev": per("fkChecks"),
      "cpu api": per("api"),
      "cpu worker": per("worker"),
      "cpu pg": per("postgres"),
      "cpu redis": per("redis"),
      "cpu pgb": per("bouncer"),
      "cpu lb": per("balancer"),
      "cpu total": (
        (["api", "worker", "postgres", "redis", "bouncer", "balancer"] as const).reduce((sum, k) => sum + end[k] - start[k], 0) / Math.max(delivered, 1)
      ).toFixed(2),
      "cpu bench": per("bench"),
      "steal %": steal,
      // Measured once the phase has drained: the machine's speed around the phase (bench/lib.ts speedMs).
      "fixed work ms per CPU": speedMs(),
      ...(destination ? { "cpu broker": per("broker") } : {}),
    };
  }

  try {
    // Warm-up (not measured), then wait until its last event has arrived so it cannot count in the first phase.
    await openLoop({ url: `http://127.0.0.1:${apiPort}`, rate: 50, durationS: 2, make: signedRequest });
    const warm = Number((await counts.query<{ n: string }>("SELECT count(*) AS n FROM inbound_deliveries /* bench-counter */")).rows[0]!.n);
    for (const until = Date.now() + 30_000; seen.size < warm && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    const rows: Row[] = [];
    for (const rate of rates) rows.push(await phase(`${rate}/s`, { overallRate: rate, connections: 50 }));
    if (args.get("saturation") !== "0") rows.push(await phase("saturation", { connections: 50 }));
    console.table(rows);
    if (topology.rejected() > 0) console.log(`signature failures at the subscriber: ${topology.rejected()}`);
    if (receiver) console.log(`tracing on: ${exports} OTLP/HTTP exports received, ${(exported / 1e6).toFixed(1)} MB`);
    if (spanNames.size > 0) {
      const events = seen.size;
      console.log(`spans per delivered event (all phases and the warm-up, ${events} events):`);
      console.table([...spanNames].sort((a, b) => b[1] - a[1]).map(([name, n]) => ({ "process: span": name, "per event": (n / events).toFixed(2) })));
    }
    return rows;
  } finally {
    await stats.end();
    await counts.end();
    await topology.stop();
    await receiver?.close();
  }
}

// The processes run the build, as in production (npm run start:api / start:worker).
execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log(
  `machine: ${machine()}; ${apiCount} api + ${workerCount} worker process(es) (built); redis ${topo.redis}${topo.pgbouncer ? "; postgres through pgbouncer (transaction mode)" : ""}; tracing ${tracing ? "on (OTLP/HTTP to a local receiver)" : "off"}; destination ${destination ?? "http (a verifying subscriber)"}; ${duration} s per phase, LOG_LEVEL=${process.env.LOG_LEVEL ?? "info"}`,
);
console.log(
  "in p50/p99: ms to the 202; p50..p99: ms sent → verified at the subscriber; cpu: ms per delivered event; stmts and commits (write transactions) per delivered event",
);
const all: Row[][] = [];
for (let i = 0; i < runs; i++) all.push(await run(i));
if (runs > 1) {
  console.log(`\nmedian of ${runs} runs`);
  console.table(
    all[0]!.map((row, r) => Object.fromEntries(Object.keys(row).map((k) => [k, k === "phase" ? row[k]! : median(all.map((run) => Number(run[r]![k])))]))),
  );
}
