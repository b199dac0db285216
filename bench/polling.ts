// Polling benchmark: N tracked MFB orders, all due, against a fake MFB on loopback (each order has two
// parcels with a few events). Measures the time for the sweeps to claim and the workers to poll them
// all once, polls/s, and worker CPU per poll.
//   npm run bench:polling [-- --orders 10000]
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig } from "../src/config/env.js";
import { redisSettings } from "../src/config/redis-settings.js";
import { createDatabase } from "../src/db/client.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetrics } from "../src/observability/metrics.js";
import { createQueues } from "../src/queues/queues.js";
import { createRedis } from "../src/queues/redis.js";
import { startWorker } from "../src/worker.js";
import { benchServices, topologyArgs, machine } from "./lib.js";
import { poolOf, prismaOf } from "../src/db/clients.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const total = Number(args.get("orders") ?? 10_000);

const tracking = JSON.stringify({
  status: "success",
  self: "x",
  data: [0, 1].map((parcel_index) => ({
    parcel_index,
    events: [
      { code: "shipment_created", happened_at: "2026-06-01T08:00:00+02:00", label: { en: "Shipment created", fr: "Expédition créée" } },
      {
        code: "picked_up",
        happened_at: "2026-06-01T10:00:00+02:00",
        label: { en: "Package picked up", fr: "Paquet enlevé" },
        location: { city: "NICE", country: "FR" },
      },
      { code: "in_transit", happened_at: "2026-06-02T03:43:00+02:00", label: { en: "In transit", fr: "En transit" } },
    ],
  })),
});
let served = 0;
const fake = http.createServer((_req, res) => {
  served += 1;
  res.writeHead(200, { "content-type": "application/json" }).end(tracking);
});
await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
const mfbUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v2`;

// --redis cluster|sentinel and --pgbouncer run it on another topology (bench/lib.ts).
const services = await benchServices(topologyArgs(args));
const config = loadConfig({
  DATABASE_URL: services.databaseUrl,
  ...services.redisEnv,
  LOG_LEVEL: "warn",
  DATABASE_POOL_SIZE: "20",
  MFB_API_BASE_URL: mfbUrl,
  MFB_LOGIN: "bench",
  MFB_PASSWORD: "bench",
  MFB_RATE_LIMIT_PER_SECOND: "100000",
  MFB_POLL_INTERVAL_MS: "3600000",
  POLL_SWEEP_INTERVAL_MS: "200",
  POLL_BATCH_SIZE: "500",
  WORKER_CONCURRENCY: args.get("concurrency") ?? "16",
});
const db = createDatabase({ url: config.DATABASE_URL, poolSize: 20 });
const redis = createRedis(redisSettings(config), "worker");
const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX, addTimeoutMs: 60_000 });

try {
  const ids = Array.from({ length: total }, () => randomUUID());
  for (let i = 0; i < ids.length; i += 5000) {
    await prismaOf(db).mfbOrder.createMany({ data: ids.slice(i, i + 5000).map((id) => ({ id, nextPollAt: new Date() })) });
  }
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const worker = await startWorker({ config, db, redis, queues, log: createLogger({ level: "warn" }), metrics: createMetrics() });
  let claimedAt = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const { rows } = await poolOf(db).query<{ polled: string; claimed: string }>(
      `SELECT count(*) FILTER (WHERE last_polled_at IS NOT NULL) AS polled, count(*) FILTER (WHERE next_poll_at > now()) AS claimed FROM mfb_orders`,
    );
    if (!claimedAt && Number(rows[0]!.claimed) >= total) claimedAt = performance.now() - started;
    if (Number(rows[0]!.polled) >= total) break;
  }
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const { rows: ev } = await poolOf(db).query<{ n: string }>(`SELECT count(*) AS n FROM events`);
  await worker.close();
  console.log(`\nmachine: ${machine()}; one worker process, concurrency ${config.WORKER_CONCURRENCY}; fake MFB in the same process`);
  console.table([
    {
      orders: total,
      "all claimed after (s)": (claimedAt / 1000).toFixed(2),
      "all polled after (s)": (elapsed / 1000).toFixed(2),
      "polls/s": Math.round(total / (elapsed / 1000)),
      "CPU ms/poll (worker + fake)": ((cpu.user + cpu.system) / 1000 / total).toFixed(2),
      "requests served": served,
      "events written": Number(ev[0]!.n),
    },
  ]);
} finally {
  await queues.close();
  await redis.quit();
  await db.close();
  await services.cleanup();
  fake.close();
}
