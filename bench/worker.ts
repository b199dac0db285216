// Worker benchmark: N stored Flovi deliveries (N/2 reservations, each going created → taken) are queued at
// once; measures how fast one worker process drains the inbox (in order, in batches: reservations,
// transitions, events with positions, one statement per batch).
//   npm run bench:worker [-- --deliveries 5000]
import { randomUUID } from "node:crypto";
import { createDatabase } from "../src/db/client.js";
import { digestBody } from "../src/db/inbound-deliveries.js";
import { loadConfig } from "../src/config/env.js";
import { redisSettings } from "../src/config/redis-settings.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetrics } from "../src/observability/metrics.js";
import { createQueues } from "../src/queues/queues.js";
import { createRedis } from "../src/queues/redis.js";
import { startWorker } from "../src/worker.js";
import { benchServices, topologyArgs, machine } from "./lib.js";
import { poolOf } from "../src/db/clients.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const total = Number(args.get("deliveries") ?? 5000);

// --redis cluster|sentinel and --pgbouncer run it on another topology (bench/lib.ts).
const services = await benchServices(topologyArgs(args));
const config = loadConfig({
  DATABASE_URL: services.databaseUrl,
  ...services.redisEnv,
  LOG_LEVEL: "warn",
  DATABASE_POOL_SIZE: "20",
  WORKER_CONCURRENCY: args.get("concurrency") ?? "16",
});
const log = createLogger({ level: "warn" });
const db = createDatabase({ url: config.DATABASE_URL, poolSize: 20 });
const redis = createRedis(redisSettings(config), "worker");
const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX, addTimeoutMs: 60_000 });

try {
  const ids: string[] = [];
  const rows: unknown[][] = [];
  for (let i = 0; i < total; i++) {
    const state = i < total / 2 ? "created" : "taken";
    const body = Buffer.from(
      JSON.stringify({
        event: "reservation_status_change",
        reservationId: `w-${i % Math.ceil(total / 2)}`,
        state,
        occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      }),
    );
    const id = randomUUID();
    ids.push(id);
    rows.push([id, digestBody(body), body, `w-${i % Math.ceil(total / 2)}`]);
  }
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await poolOf(db).query(
      `INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, status, ordering_key)
       SELECT id, 'flovi', digest, body, '{}'::jsonb, 'received', key FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[]) WITH ORDINALITY AS t(id, digest, body, key, ord) ORDER BY ord`,
      [chunk.map((r) => r[0]), chunk.map((r) => r[1]), chunk.map((r) => r[2]), chunk.map((r) => r[3])],
    );
  }
  // The first half creates reservations, the second half moves them on: queue them in that order.
  await queues.enqueueMany(
    "processFloviDelivery",
    ids.map((inboundDeliveryId) => ({ inboundDeliveryId })),
  );

  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const worker = await startWorker({ config, db, redis, queues, log, metrics: createMetrics() });
  let processed = 0;
  while (processed < total) {
    await new Promise((r) => setTimeout(r, 100));
    const { rows: count } = await poolOf(db).query<{ n: string }>(`SELECT count(*) AS n FROM inbound_deliveries WHERE status <> 'received'`);
    processed = Number(count[0]!.n);
  }
  const appliedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const { rows: ev } = await poolOf(db).query<{ n: string; positioned: string }>(`SELECT count(*) AS n, count(position) AS positioned FROM events`);
  await worker.close();

  console.log(`\nmachine: ${machine()}; worker concurrency ${config.WORKER_CONCURRENCY}, one process`);
  console.table([
    {
      deliveries: total,
      events: Number(ev[0]!.n),
      "applied in (s)": (appliedMs / 1000).toFixed(2),
      "deliveries/s": Math.round(total / (appliedMs / 1000)),
      "worker CPU ms/delivery": ((cpu.user + cpu.system) / 1000 / total).toFixed(2),
      "rss MiB": Math.round(process.memoryUsage().rss / 2 ** 20),
    },
  ]);
  if (Number(ev[0]!.positioned) !== Number(ev[0]!.n)) throw new Error("not every event has its log position");
} finally {
  await queues.close();
  await redis.quit();
  await db.close();
  await services.cleanup();
}
