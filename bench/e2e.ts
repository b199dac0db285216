// End to end: signed Flovi webhook in → verified POST received by a local subscriber. Runs the real api and
// worker processes; measures at a steady rate and at saturation.
//   npm run bench:e2e [-- --rate 500 --duration 10]
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import { Webhook } from "standardwebhooks";
import { benchServices, freePort, machine, percentile, spawnNode, stopChild } from "./lib.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const rate = Number(args.get("rate") ?? 500);
const duration = Number(args.get("duration") ?? 10);
const SECRET = "bench-secret";
const ADMIN = "bench-admin-token-0123456789";

const latencies: number[] = [];
let verified = 0;
let rejected = 0;
let subscriberSecret = "";
const seen = new Set<string>();

const subscriber = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const event = new Webhook(subscriberSecret).verify(body, req.headers as Record<string, string>) as { id: string; data: { entityId: string } };
      verified += 1;
      if (!seen.has(event.id)) {
        seen.add(event.id);
        const sentAt = Number(event.data.entityId.split("-")[1]);
        latencies.push(Date.now() - sentAt);
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
function signedRequest() {
  counter += 1;
  // The reservation id carries the send time, so the subscriber can measure end-to-end latency.
  const body = JSON.stringify({ event: "reservation_status_change", reservationId: `e2e-${Date.now()}-${counter}`, state: "created" });
  return {
    method: "POST" as const,
    path: "/webhooks/flovi",
    headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
    body,
  };
}

const services = await benchServices();
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

async function phase(title: string, opts: { overallRate?: number; connections: number }) {
  latencies.length = 0;
  const before = seen.size;
  const started = Date.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${apiPort}`,
    connections: opts.connections,
    duration,
    overallRate: opts.overallRate,
    requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }],
  });
  const accepted = result.requests.total - result.non2xx - result.errors;
  // Wait for the pipeline to drain (bounded).
  const deadline = Date.now() + 120_000;
  while (seen.size - before < accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const drainedMs = Date.now() - started;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    phase: title,
    "accepted/s": Math.round(accepted / duration),
    delivered: seen.size - before,
    "delivered/s (incl. drain)": Math.round(((seen.size - before) / drainedMs) * 1000),
    "e2e p50 ms": percentile(sorted, 50),
    "e2e p95 ms": percentile(sorted, 95),
    "e2e p99 ms": percentile(sorted, 99),
    "ingress p99 ms": result.latency.p99,
    non2xx: result.non2xx,
  };
}

try {
  const res = await fetch(`http://127.0.0.1:${apiPort}/subscriptions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ url: subscriberUrl, eventTypes: ["reservation.*"] }),
  });
  subscriberSecret = ((await res.json()) as { secret: string }).secret;
  const rows = [
    await phase(`steady ${rate}/s`, { overallRate: rate, connections: 50 }),
    await phase("saturation (50 conns)", { connections: 50 }),
  ];
  console.log(`\nmachine: ${machine()}; api + worker processes, ${duration} s per phase, LOG_LEVEL=${env.LOG_LEVEL}`);
  console.table(rows);
  console.log(`verified deliveries: ${verified}, signature failures: ${rejected}, distinct events: ${seen.size}`);
} finally {
  await stopChild(api);
  await stopChild(worker);
  subscriber.close();
  await services.cleanup();
}
