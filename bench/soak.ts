// Soak: 100k distinct signed webhooks against the real api process at 50 connections; samples the api's
// RSS every second to see whether memory stays flat.
//   npm run bench:soak [-- --requests 100000]
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { benchServices, topologyArgs, freePort, machine, spawnNode, stopChild } from "./lib.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const total = Number(args.get("requests") ?? 100_000);
const SECRET = "soak-secret";

const rssMiB = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line?.replace(/\D+/g, "") ?? 0) / 1024);
};

let counter = 0;
// --redis cluster|sentinel and --pgbouncer run it on another topology (bench/lib.ts).
const services = await benchServices(topologyArgs(args));
const port = await freePort();
const api = await spawnNode(
  "src/main.ts",
  ["api"],
  {
    NODE_ENV: "production",
    LOG_LEVEL: "info",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: services.databaseUrl,
    ...services.redisEnv,
    FLOVI_WEBHOOK_SECRET: SECRET,
    DATABASE_POOL_SIZE: "20",
  },
  '"msg":"started"',
  async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
);
const samples: { t: number; rss: number; done: number }[] = [];
let done = 0;
const started = Date.now();
const timer = setInterval(() => samples.push({ t: Math.round((Date.now() - started) / 1000), rss: rssMiB(api.pid!), done }), 1_000);
try {
  samples.push({ t: 0, rss: rssMiB(api.pid!), done: 0 });
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 50,
    amount: total,
    requests: [
      {
        setupRequest: (req) => {
          counter += 1;
          const body = JSON.stringify({ event: "reservation_status_change", reservationId: `soak-${counter}`, state: "created" });
          return {
            ...req,
            method: "POST",
            path: "/webhooks/flovi",
            body,
            headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
          };
        },
        onResponse: () => {
          done += 1;
        },
      },
    ],
  });
  clearInterval(timer);
  samples.push({ t: Math.round((Date.now() - started) / 1000), rss: rssMiB(api.pid!), done });
  const at = (fraction: number) => samples.find((s) => s.done >= total * fraction) ?? samples.at(-1)!;
  console.log(`\nmachine: ${machine()}; ${total} requests, 50 connections, LOG_LEVEL=info`);
  console.table([
    {
      requests: result.requests.total,
      "req/s": Math.round(result.requests.average),
      "p50 ms": result.latency.p50,
      "p99 ms": result.latency.p99,
      non2xx: result.non2xx,
      "rss start MiB": samples[0]!.rss,
      "rss 25%": at(0.25).rss,
      "rss 50%": at(0.5).rss,
      "rss 75%": at(0.75).rss,
      "rss end": samples.at(-1)!.rss,
      "rss max": Math.max(...samples.map((s) => s.rss)),
    },
  ]);
} finally {
  clearInterval(timer);
  await stopChild(api);
  await services.cleanup();
}
