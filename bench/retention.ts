// Retention under load: 1 M events with their deliveries and attempts in the database, spread over 92 days;
// the e2e path runs at a steady 100/s in five phases: alone, while pruning the oldest day (events,
// deliveries, attempts past 91 days), alone, while pruning the next day (past 90 days), alone. Prints
// p50/p99 of each phase and the medians' ratio, the pruning rate, storage per row, Postgres connections per
// process and Redis memory per queued job.
//   npm run bench:retention [-- --events 1000000 --rate 100 --duration 20]
import { execFileSync } from "node:child_process";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { createDatabase } from "../src/db/client.js";
import { pruneAll, type RetentionSettings } from "../src/maintenance/prune.js";
import { createLogger } from "../src/observability/logger.js";
import { loadAverage, machine, openLoop, percentile, seedDeliveredEvents } from "./lib.js";
import { startTopology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const total = Number(args.get("events") ?? 1_000_000);
const rate = Number(args.get("rate") ?? 100);
const duration = Number(args.get("duration") ?? 20);
const DAY = 86_400_000;

execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log(`machine: ${machine()}; load average before ${loadAverage()}`);
const topology = await startTopology({ env: { RETENTION_PRUNE_INTERVAL_MS: "0" } });
const client = new pg.Client({ connectionString: topology.services.databaseUrl });
await client.connect();
const q = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await client.query<T>(text, params)).rows;

try {
  // 1 M events over days 1..91 ago, each delivered once (succeeded, one attempt): realistic envelopes.
  const started = Date.now();
  const [sub] = await q<{ id: string }>("SELECT id FROM subscriptions LIMIT 1");
  await seedDeliveredEvents(q, total, sub!.id);
  await q("VACUUM ANALYZE events, webhook_deliveries, delivery_attempts");
  await q("CHECKPOINT"); // the seed's dirty pages written now, not during the first phase
  await new Promise((r) => setTimeout(r, 5_000));
  const prunable = (await q<{ n: string }>("SELECT count(*) AS n FROM events WHERE created_at < now() - interval '90 days'"))[0]!.n;
  console.log(
    `seeded ${total} events, deliveries and attempts in ${((Date.now() - started) / 1000).toFixed(0)} s; older than 90 days (two days' worth): ${prunable}; load average ${loadAverage()}`,
  );

  async function phase(title: string, during?: () => Promise<unknown>) {
    topology.latencies.length = 0;
    const before = topology.seen.size;
    const load = openLoop({ url: `http://127.0.0.1:${topology.apiPort}`, rate, durationS: duration, make: topology.signedRequest });
    const side = during?.();
    const sent = await load;
    for (const until = Date.now() + 60_000; topology.seen.size - before < sent.ok && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    const sideResult = await side;
    const sorted = [...topology.latencies].sort((a, b) => a - b);
    return {
      phase: title,
      sent: sent.sent,
      delivered: topology.seen.size - before,
      "p50 ms": percentile(sorted, 50),
      "p95 ms": percentile(sorted, 95),
      "p99 ms": percentile(sorted, 99),
      sideResult,
    };
  }

  // Pruning one day: events, deliveries and attempts past the horizon; nothing else is due. The scheduled job's
  // batch size and pace (duty cycle); only the time budget is larger, so one call prunes the whole day.
  const far = 10_000 * DAY;
  const db = createDatabase({ url: topology.services.databaseUrl, poolSize: 2, applicationName: "bench-pruner" });
  const prune = (horizonDays: number) => async () => {
    const settings: RetentionSettings = {
      inbound_bodies: far,
      inbound_rows: far,
      succeeded_deliveries: horizonDays * DAY,
      failed_deliveries: far,
      events: horizonDays * DAY,
      tracking: far,
      audit: far,
    };
    const t0 = Date.now();
    const result = await pruneAll({ db, log: createLogger({ level: "warn" }) }, settings, { batchSize: 500, budgetMs: 600_000 });
    const seconds = (Date.now() - t0) / 1000;
    return {
      seconds,
      events: result.events.rows,
      deliveries: result.succeeded_deliveries.rows,
      bytes: result.events.bytes + result.succeeded_deliveries.bytes,
    };
  };
  await openLoop({ url: `http://127.0.0.1:${topology.apiPort}`, rate: 50, durationS: 3, make: topology.signedRequest }); // warm-up
  const rows = [
    await phase("baseline 1"),
    await phase("pruning day 92", prune(91)),
    await phase("baseline 2"),
    await phase("pruning day 91", prune(90)),
    await phase("baseline 3"),
  ];
  console.table(
    rows.map(({ sideResult, ...r }) => ({
      ...r,
      "pruned rows": sideResult ? (sideResult as { events: number; deliveries: number }).events + (sideResult as { deliveries: number }).deliveries : "",
    })),
  );
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const baseP99 = median([0, 2, 4].map((i) => Number(rows[i]!["p99 ms"])));
  const pruneP99 = [1, 3].map((i) => Number(rows[i]!["p99 ms"]));
  for (const i of [1, 3]) {
    const pruned = rows[i]!.sideResult as Awaited<ReturnType<ReturnType<typeof prune>>>;
    console.log(
      `${rows[i]!.phase}: ${pruned.events} events and ${pruned.deliveries} deliveries (+ their attempts), ${(pruned.bytes / 2 ** 20).toFixed(1)} MiB of rows, in ${pruned.seconds.toFixed(1)} s (${Math.round((pruned.events + pruned.deliveries) / pruned.seconds)} rows/s)`,
    );
  }
  console.log(
    `p99: baselines' median ${baseP99} ms; while pruning ${pruneP99.join(" / ")} ms (ratio ${pruneP99.map((p) => (p / baseP99).toFixed(2)).join(" / ")})`,
  );

  // Storage per row: sizes of rows the real pipeline wrote in this run, and whole tables (indexes included) per row.
  const sizes = await q<{ name: string; avg_row: string; total: string; rows: string }>(`
    SELECT 'event' AS name, (SELECT avg(pg_column_size(e.*)) FROM events e WHERE e.entity_id LIKE 'e2e-%') AS avg_row,
           pg_total_relation_size('events') AS total, (SELECT count(*) FROM events) AS rows
    UNION ALL SELECT 'delivery', (SELECT avg(pg_column_size(d.*)) FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE e.entity_id LIKE 'e2e-%'),
           pg_total_relation_size('webhook_deliveries'), (SELECT count(*) FROM webhook_deliveries)
    UNION ALL SELECT 'attempt', (SELECT avg(pg_column_size(a.*)) FROM delivery_attempts a WHERE a.attempted_at > now() - interval '1 hour'),
           pg_total_relation_size('delivery_attempts'), (SELECT count(*) FROM delivery_attempts)
    UNION ALL SELECT 'inbound delivery', (SELECT avg(pg_column_size(i.*)) FROM inbound_deliveries i), pg_total_relation_size('inbound_deliveries'), (SELECT count(*) FROM inbound_deliveries)
    UNION ALL SELECT 'reservation transition', (SELECT avg(pg_column_size(t.*)) FROM reservation_transitions t), pg_total_relation_size('reservation_transitions'), (SELECT count(*) FROM reservation_transitions)`);
  console.table(
    sizes.map((s) => ({
      row: s.name,
      "avg row bytes": Math.round(Number(s.avg_row)),
      "table+indexes bytes/row": Math.round(Number(s.total) / Math.max(1, Number(s.rows))),
      rows: Number(s.rows),
    })),
  );

  const conns = await q<{ app: string; n: string }>(
    "SELECT application_name AS app, count(*) AS n FROM pg_stat_activity WHERE datname = 'bench' GROUP BY 1 ORDER BY 1",
  );
  console.log(`Postgres connections open after the run, by application: ${conns.map((c) => `${c.app || "(none)"} ${c.n}`).join(", ")}`);

  // Redis memory per queued job: 10,000 delayed delivery jobs on a scratch queue.
  const redis = new Redis(topology.services.redisUrl, { maxRetriesPerRequest: null });
  const memory = async () => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))![1]);
  const queue = new Queue("webhook-deliveries", { connection: redis, prefix: "{bench-memory:webhook-deliveries}" });
  const m0 = await memory();
  for (let i = 0; i < 10_000; i += 1000) {
    await queue.addBulk(
      Array.from({ length: 1000 }, (_, k) => ({
        name: "deliver",
        data: { deliveryId: crypto.randomUUID(), scheduleAttempt: 2 },
        opts: { jobId: `dlv-${i + k}`, delay: 3_600_000, attempts: 7 },
      })),
    );
  }
  const m1 = await memory();
  console.log(`Redis memory per queued (delayed) delivery job: ${Math.round((m1 - m0) / 10_000)} bytes`);
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.quit();
  await db.close();
} finally {
  await client.end();
  await topology.stop();
}
