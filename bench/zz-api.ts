import { createHmac } from "node:crypto";
import { benchServices, cpuMs, freePort, openLoop, percentile, spawnNode, stopChild } from "./lib.js";
const services = await benchServices();
for (const level of ["info", "warn", "info"]) {
  const port = await freePort();
  const env = { NODE_ENV: "development", LOG_LEVEL: level, HOST: "127.0.0.1", DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, FLOVI_WEBHOOK_SECRET: "s", ADMIN_TOKEN: "bench-admin-token-0123456789" };
  const api = await spawnNode("dist/src/main.js", ["api"], { ...env, PORT: String(port) }, "never", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
  let n = 0;
  const make = () => { const body = JSON.stringify({ event: "reservation_status_change", reservationId: `a-${Date.now()}-${n++}-${level}`, state: "created" }); return { path: "/webhooks/flovi", headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", "s").update(body).digest("hex")}` }, body }; };
  await openLoop({ url: `http://127.0.0.1:${port}`, rate: 100, durationS: 2, make });
  for (const rate of [100, 400]) {
    const c0 = cpuMs(api.pid!); const p0 = cpuMs(services.pg.pid!, true); const r0 = cpuMs(services.redis.pid!);
    const r = await openLoop({ url: `http://127.0.0.1:${port}`, rate, durationS: 8, make });
    console.log(`LOG_LEVEL=${level} ${rate}/s: api ${((cpuMs(api.pid!) - c0) / r.ok).toFixed(2)} ms/req, pg ${((cpuMs(services.pg.pid!, true) - p0) / r.ok).toFixed(2)}, redis ${((cpuMs(services.redis.pid!) - r0) / r.ok).toFixed(2)}; p50 ${percentile(r.latencies, 50).toFixed(1)} ms`);
  }
  await stopChild(api);
}
await services.cleanup();
