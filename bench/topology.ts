// The real topology for end-to-end benchmarks: private Postgres and Redis, the built api and worker
// processes, a verifying subscriber (standardwebhooks) in this process, and signed Flovi requests whose
// reservation id carries their send time, so the subscriber measures webhook sent → verified POST received.
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ChildProcess } from "node:child_process";
import { Webhook } from "standardwebhooks";
import { benchServices, freePort, spawnNode, stopChild, type BenchEnv } from "./lib.js";

export const SECRET = "bench-secret";
export const ADMIN = "bench-admin-token-0123456789";
const ENTRY = "dist/src/main.js";

export interface Topology {
  services: BenchEnv;
  apiPort: number;
  api: ChildProcess;
  worker: ChildProcess;
  /** Distinct event ids verified so far. */
  seen: Set<string>;
  /** End-to-end latencies (ms) of verified events, in arrival order; clear it between phases. */
  latencies: number[];
  rejected(): number;
  signedRequest(): { method: "POST"; path: string; headers: Record<string, string>; body: string };
  stop(): Promise<void>;
}

export async function startTopology(opts: { statStatements?: boolean; env?: Record<string, string> } = {}): Promise<Topology> {
  const seen = new Set<string>();
  const latencies: number[] = [];
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
    const body = JSON.stringify({ event: "reservation_status_change", reservationId: `e2e-${Date.now()}-${counter}`, state: "created" });
    return {
      method: "POST" as const,
      path: "/webhooks/flovi",
      headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
      body,
    };
  };

  const services = await benchServices({ statStatements: opts.statStatements });
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
    ...opts.env,
  };
  const api = await spawnNode(ENTRY, ["api"], { ...env, PORT: String(apiPort) }, '"msg":"started"', async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok);
  const worker = await spawnNode(ENTRY, ["worker"], env, '"msg":"started"');
  const res = await fetch(`http://127.0.0.1:${apiPort}/subscriptions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ url: subscriberUrl, eventTypes: ["reservation.*"] }),
  });
  subscriberSecret = ((await res.json()) as { secret: string }).secret;

  return {
    services,
    apiPort,
    api,
    worker,
    seen,
    latencies,
    rejected: () => rejected,
    signedRequest,
    async stop() {
      await stopChild(api);
      await stopChild(worker);
      subscriber.close();
      await services.cleanup();
    },
  };
}
