// Ingress benchmark: many distinct signed Flovi bodies against the real api process (durable accept:
// Postgres insert + enqueue before 202), beside a bare Express hello-world measured in the same run.
//   npm run bench:ingress [-- --duration 10 --connections 50]
import { createHmac } from "node:crypto";
import autocannon from "autocannon";
import { benchServices, topologyArgs, freePort, machine, spawnNode, stopChild } from "./lib.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const duration = Number(args.get("duration") ?? 10);
const connections = Number(args.get("connections") ?? 50);
const SECRET = "bench-secret";

let counter = 0;
function signedRequest() {
  counter += 1;
  const body = JSON.stringify({
    event: "reservation_status_change",
    reservationId: `bench-${counter % 5000}`,
    state: "created",
    occurredAt: new Date().toISOString(),
    n: counter,
    pid: process.pid,
  });
  return {
    method: "POST" as const,
    path: "/webhooks/flovi",
    headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
    body,
  };
}

async function run(url: string, title: string) {
  const result = await autocannon({
    url,
    connections,
    duration,
    requests: [{ setupRequest: (req) => ({ ...req, ...signedRequest() }) }],
  });
  const non2xx = result.non2xx;
  return {
    title,
    rps: Math.round(result.requests.average),
    total: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx,
  };
}

// --redis cluster|sentinel and --pgbouncer run it on another topology (bench/lib.ts).
const services = await benchServices(topologyArgs(args));
const barePort = await freePort();
const apiPort = await freePort();
const bare = await spawnNode("bench/bare-express.ts", [String(barePort)], {}, "listening");
const api = await spawnNode(
  "src/main.ts",
  ["api"],
  {
    NODE_ENV: "production",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    PORT: String(apiPort),
    HOST: "127.0.0.1",
    DATABASE_URL: services.databaseUrl,
    DATABASE_POOL_SIZE: "20",
    ...services.redisEnv,
    FLOVI_WEBHOOK_SECRET: SECRET,
  },
  '"msg":"started"',
  async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok,
);

try {
  // Warm both up, then measure back to back.
  await autocannon({ url: `http://127.0.0.1:${barePort}/webhooks/flovi`, connections: 10, duration: 2, method: "POST", body: "{}" });
  await run(`http://127.0.0.1:${apiPort}`, "warm-up");
  const baseline = await run(`http://127.0.0.1:${barePort}`, "bare express (no storage)");
  const ingress = await run(`http://127.0.0.1:${apiPort}`, "ingress (verify + store + enqueue)");
  console.log(`\nmachine: ${machine()}; ${connections} connections, ${duration} s each, LOG_LEVEL=${process.env.LOG_LEVEL ?? "info"}`);
  console.table([baseline, ingress]);
  console.log(`ingress / bare express throughput: ${(ingress.rps / baseline.rps).toFixed(2)}`);
} finally {
  await stopChild(api);
  await stopChild(bare);
  await services.cleanup();
}
