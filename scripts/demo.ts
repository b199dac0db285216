// npm run demo: the whole pipeline in one command. Starts a private Postgres and Redis, simulated
// MyFlyingBox and GreenFlow APIs, the service (api + worker), and a sample subscriber that prints every
// event it verifies. Plays one Flovi reservation's whole life, one parcel from creation to delivery and one
// rental booking, and leaves a failed delivery for you to replay from the admin UI.
//   npm run demo            keeps running (Ctrl-C stops everything)
//   npm run demo -- --once  self-checking: exits 0 once every expected event was verified (and replayed)
import { createHmac, randomUUID } from "node:crypto";
import net from "node:net";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { loadConfig } from "../src/config/env.js";
import { migrate } from "../src/db/migrate.js";
import { createLogger } from "../src/observability/logger.js";
import { start } from "../src/runtime.js";
import { createDatabase, freePort, startPostgres, startRedis, type LocalServer } from "./lib/local-services.js";
import { startFakeServer, type FakeServer } from "./lib/fakes/http-server.js";
import { GREENFLOW_KEY, MFB_LOGIN, MFB_PASSWORD, mfbEvent, startFakeGreenflow, startFakeMfb } from "./lib/fakes/providers.js";

const once = process.argv.includes("--once");
const root = path.resolve(import.meta.dirname, "..");
const SECRET = "demo-webhook-secret";
const ADMIN = "demo-admin-token-0123456789";
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanup() {
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "hub-demo-"));
  chmodSync(dir, 0o755);
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  say("▶ starting PostgreSQL and Redis (private, on loopback)…");
  const [pg, redis]: LocalServer[] = await Promise.all([
    startPostgres({ dataDir: path.join(dir, "pg"), ephemeral: true }),
    startRedis({ dataDir: path.join(dir, "redis") }),
  ]);
  cleanups.push(
    () => pg!.stop(),
    () => redis!.stop(),
  );
  const databaseUrl = await createDatabase(pg!.url, "demo");
  await migrate(databaseUrl, path.join(root, "prisma/migrations"));

  const mfb = await startFakeMfb();
  const greenflow = await startFakeGreenflow();
  cleanups.push(
    () => mfb.close(),
    () => greenflow.close(),
  );

  // The sample subscriber: verifies every request with standardwebhooks and prints it.
  const verified: { type: string; subject: string; webhookId: string }[] = [];
  let subscriberSecret = "";
  const subscriber: FakeServer = await startFakeServer((req) => {
    try {
      const event = new Webhook(subscriberSecret).verify(req.body, req.headers as Record<string, string>) as {
        type: string;
        subject: string;
        data: { sequence: number; status: string; phase: string; details: { code?: string } };
      };
      verified.push({ type: event.type, subject: event.subject, webhookId: String(req.headers["webhook-id"]) });
      const extra = event.type === "shipment.tracking_event" ? ` (${event.data.details.code})` : "";
      say(
        `  ✔ verified ${event.type.padEnd(26)} ${event.subject.padEnd(52)} seq ${String(event.data.sequence).padStart(2)}  phase ${event.data.phase}${extra}`,
      );
      return { status: 204 };
    } catch (error) {
      say(`  ✘ signature check failed: ${(error as Error).message}`);
      return { status: 401 };
    }
  });
  cleanups.push(() => subscriber.close());

  // A subscriber that is down until you fix it: its deliveries fail and wait in the admin UI for a replay.
  let flakyFixed = false;
  const flakyReceived: string[] = [];
  const flaky = await startFakeServer((req) => {
    if (req.path === "/fix") {
      flakyFixed = true;
      return { status: 200, body: { fixed: true } };
    }
    if (!flakyFixed) return { status: 503, body: { error: "billing-sync is down for maintenance" } };
    flakyReceived.push(String(req.headers["webhook-id"]));
    say(`  ✔ billing-sync finally received ${String(req.headers["webhook-id"]).slice(0, 8)}…`);
    return { status: 200 };
  });
  cleanups.push(() => flaky.close());

  // PORT when you set it; otherwise 3000 when free (npm run dev may hold it), or any free port.
  const port = process.env.PORT ? Number(process.env.PORT) : !once && (await portFree(3000)) ? 3000 : await freePort();
  const config = loadConfig({
    NODE_ENV: "development",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "fatal",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis!.url,
    FLOVI_WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: ADMIN,
    MFB_API_BASE_URL: mfb.url,
    MFB_LOGIN,
    MFB_PASSWORD,
    GREENFLOW_API_BASE_URL: greenflow.url,
    GREENFLOW_API_KEY: GREENFLOW_KEY,
    MFB_POLL_INTERVAL_MS: "900",
    GREENFLOW_POLL_INTERVAL_MS: "900",
    POLL_SWEEP_INTERVAL_MS: "300",
    OUTBOX_SWEEP_INTERVAL_MS: "1000",
    INBOUND_SWEEP_INTERVAL_MS: "2000",
    DELIVERY_RETRY_SCHEDULE: "0,1s,2s",
  });
  const service = await start("all", config, createLogger({ level: config.LOG_LEVEL }));
  cleanups.push(() => service.stop("demo ending"));
  const base = `http://127.0.0.1:${port}`;
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json().catch(() => ({}))) as Record<string, unknown>;
  };
  say(`▶ event hub on ${base}`);

  subscriberSecret = String(
    (await api("POST", "/subscriptions", { url: `${subscriber.url}/events`, eventTypes: ["*"], description: "demo subscriber" })).secret,
  );
  await api("POST", "/subscriptions", { url: `${flaky.url}/billing`, eventTypes: ["reservation.final_costs"], description: "billing-sync (down)" });
  say("▶ subscribed the sample subscriber to * and billing-sync to reservation.final_costs");

  // 1. A Flovi reservation's whole life, as Flovi's dashboard would post it.
  const reservationId = String(100000 + Math.floor(Math.random() * 900000));
  say(`▶ Flovi: reservation ${reservationId} created → taken → driving → sealed → final_costs`);
  for (const state of ["created", "taken", "driving", "sealed", "final_costs"]) {
    const payload = {
      event: "reservation_status_change",
      reservationId,
      externalId: "WO-DEMO-1",
      state,
      occurredAt: new Date().toISOString(),
      ...(state === "final_costs" ? { price: 189.5, currency: "EUR", vehicles: [{ regNo: "ABC-123", make: "Toyota", model: "Corolla" }] } : {}),
    };
    const body = JSON.stringify(payload);
    await fetch(`${base}/webhooks/flovi`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
      body,
    });
    // Flovi sends these minutes apart; wait for each to apply so none arrives "out of order" (stale).
    const until = Date.now() + 10_000;
    while ((await api("GET", `/reservations/${reservationId}`)).state !== state && Date.now() < until) await sleep(50);
  }

  // 2. A parcel from creation to delivery, one carrier step at a time.
  const orderId = randomUUID();
  const events = [mfbEvent("shipment_created", new Date().toISOString())];
  mfb.orders.set(orderId, [{ parcel_index: 0, events }]);
  await api("POST", "/tracking/mfb-orders", { orderId, reference: "PO-DEMO-7" });
  say(`▶ MyFlyingBox: tracking order ${orderId}`);
  // 3. A rental booking.
  greenflow.bookings.set("BR-DEMO-1", { lastname: "Demo", status: "RESERVED" });
  await api("POST", "/tracking/greenflow-bookings", { bookingCode: "BR-DEMO-1", lastname: "Demo" });
  say("▶ GreenFlow: tracking booking BR-DEMO-1");

  for (const code of ["picked_up", "departed_from_facility", "arrived_at_facility", "delivery_in_progress", "delivered"]) {
    await sleep(1_500);
    events.push(mfbEvent(code, new Date().toISOString(), { location: { city: "NICE", country: "FR" } }));
  }
  await sleep(1_000);
  greenflow.bookings.set("BR-DEMO-1", { lastname: "Demo", status: "CANCELLED" });

  const expected = [
    ...["created", "taken", "driving", "sealed", "final_costs"].map((s) => `reservation.${s}`),
    ...["created", "picked_up", "in_transit", "out_for_delivery", "delivered", "tracking_event"].map((s) => `shipment.${s}`),
    "rental.reserved",
    "rental.cancelled",
  ];
  const missing = () => expected.filter((type) => !verified.some((v) => v.type === type));
  const deadline = Date.now() + 90_000;
  while (missing().length > 0 && Date.now() < deadline) await sleep(250);
  if (missing().length > 0) {
    say(`✘ missing events: ${missing().join(", ")}`);
    return once ? 1 : 0;
  }
  say(`▶ all ${expected.length} event types verified (${verified.length} deliveries, every one signature-checked)`);

  const failedNow = async () => (await api("GET", "/admin/queues/webhook-deliveries/failed")) as { total?: number };
  while (((await failedNow()).total ?? 0) < 1 && Date.now() < deadline) await sleep(250);
  say("");
  say("▶ billing-sync was down: its delivery of reservation.final_costs failed after 3 attempts; the console lists it under what needs a look.");
  say(`    console:    ${base}/admin/console   (sign in with the token ${ADMIN})`);
  say(`    fix it:     curl -X POST ${flaky.url}/fix`);
  say(
    `    replay it:  "Re-send" on billing-sync's page in the console, or curl -X POST ${base}/admin/queues/webhook-deliveries/retry-failed -H 'authorization: Bearer ${ADMIN}'`,
  );

  if (once) {
    // Self-check of the operator path: fix the subscriber, replay the failed job, see it arrive.
    flakyFixed = true;
    const retried = await api("POST", "/admin/queues/webhook-deliveries/retry-failed", {});
    while (flakyReceived.length === 0 && Date.now() < deadline) await sleep(250);
    if (flakyReceived.length === 0) {
      say(`✘ the replayed delivery did not arrive (retry-failed answered ${JSON.stringify(retried)})`);
      return 1;
    }
    say("▶ demo --once: every expected event verified, the failed delivery replayed and received. OK");
    return 0;
  }
  say("");
  say("Everything keeps running; Ctrl-C stops it all.");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  return 0;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

main()
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    const err = error as NodeJS.ErrnoException & { port?: number };
    // A port clash is one line saying what to do, never a stack trace.
    const line = err.code === "EADDRINUSE" ? `port ${err.port ?? process.env.PORT} is in use: set PORT to a free port` : (err.stack ?? String(error));
    process.stderr.write(`demo failed: ${line}\n`);
    await cleanup();
    process.exit(1);
  });
