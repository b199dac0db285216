// The operator console with 1 M events (with their deliveries and attempts) in the database, against the
// real api and worker: the time each page takes to render, sequentially, as an operator's clicks would come.
// A reservation walks created → final_costs through the webhook path first, so its story is real; its
// subscriber fails, so the subscription has failed deliveries to page through.
// With --subscriptions N, N - 1 more subscriptions (pointing nowhere) stand beside it, two of them with 48,000
// successes of the last 24 hours each (moved from the seeded ones), as a busy hub's overview has.
//   npm run bench:console [-- --events 1000000 --requests 200 --subscriptions 1000]
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import pg from "pg";
import { loadAverage, machine, percentile, seedDeliveredEvents } from "./lib.js";
import { ADMIN, SECRET, startTopology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const total = Number(args.get("events") ?? 1_000_000);
const requests = Number(args.get("requests") ?? 200);
const subscriptionCount = Number(args.get("subscriptions") || 1);

execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log(`machine: ${machine()}; load average before ${loadAverage()}`);
const topology = await startTopology({ env: { RETENTION_PRUNE_INTERVAL_MS: "0", DELIVERY_RETRY_SCHEDULE: "0" } });
const client = new pg.Client({ connectionString: topology.services.databaseUrl });
await client.connect();
const q = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await client.query<T>(text, params)).rows;
const base = `http://127.0.0.1:${topology.apiPort}`;
const auth = `Basic ${Buffer.from(`operator:${ADMIN}`).toString("base64")}`;

try {
  const started = Date.now();
  const [sub] = await q<{ id: string }>("SELECT id FROM subscriptions LIMIT 1");
  await seedDeliveredEvents(q, total, sub!.id);
  // A failing subscriber with 2,000 failed deliveries among the seeded ones, for the failed-deliveries pages.
  await q("UPDATE webhook_deliveries SET status = 'failed' WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY created_at DESC LIMIT 2000)");
  if (subscriptionCount > 1) {
    const extra = await q<{ id: string }>(
      `INSERT INTO subscriptions (id, url, event_types, secret, updated_at, created_at)
       SELECT gen_random_uuid(), 'http://127.0.0.1:9/team-' || i, '{shipment.delivered}', 'whsec_bench', now(), now() + i * interval '1 ms'
         FROM generate_series(1, $1::int) AS i RETURNING id`,
      [subscriptionCount - 1],
    );
    for (const busy of extra.slice(0, 2))
      await q(
        `UPDATE webhook_deliveries SET subscription_id = $1, created_at = now() - random() * interval '23 hours'
          WHERE id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = $2 AND status = 'succeeded' LIMIT 48000)`,
        [busy.id, sub!.id],
      );
  }
  await q("VACUUM ANALYZE");
  console.log(
    `seeded ${total} events, deliveries and attempts, ${subscriptionCount} subscriptions in ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${loadAverage()}`,
  );

  // One reservation through the webhook path (the subscriber's deliveries for it are real).
  for (const [i, state] of ["created", "taken", "driving", "sealed", "final_costs"].entries()) {
    const body = JSON.stringify({
      event: "reservation_status_change",
      reservationId: "bench-4711",
      externalId: "WO-4711",
      state,
      occurredAt: new Date(Date.UTC(2026, 0, 1, 8, 0, i)).toISOString(),
    });
    const res = await fetch(`${base}/webhooks/flovi`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}` },
      body,
    });
    if (res.status !== 202) throw new Error(`webhook ${state}: ${res.status}`);
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      if ((await q<{ state: string }>("SELECT state FROM reservations WHERE id = 'bench-4711'"))[0]?.state === state) break;
    }
  }
  const [deep] = await q<{ created_at: Date; id: string }>(
    "SELECT created_at, id FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'failed' ORDER BY created_at DESC, id DESC OFFSET 1500 LIMIT 1",
    [sub!.id],
  );
  const pages: [string, string][] = [
    ["search by id", "/admin/console?q=bench-4711"],
    ["search by external id", "/admin/console?q=WO-4711"],
    ["reservation story", "/admin/console/reservations/bench-4711"],
    ["subscriptions", "/admin/console/subscriptions"],
    ["failed deliveries, first page", `/admin/console/subscriptions/${sub!.id}`],
    ["failed deliveries, page 31 (keyset)", `/admin/console/subscriptions/${sub!.id}?status=failed&before=${deep!.created_at.toISOString()}~${deep!.id}`],
    ["inbound webhooks", "/admin/console/inbound?status=failed"],
    ["providers", "/admin/console/providers"],
  ];
  const rows = [];
  for (const [title, path] of pages) {
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { authorization: auth } });
      const text = await res.text();
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`${title}: ${res.status} ${text.slice(0, 200)}`);
      size = text.length;
    }
    times.sort((a, b) => a - b);
    rows.push({
      page: title,
      "p50 ms": +percentile(times, 50).toFixed(1),
      "p95 ms": +percentile(times, 95).toFixed(1),
      "p99 ms": +percentile(times, 99).toFixed(1),
      kB: +(size / 1024).toFixed(1),
    });
  }
  console.table(rows);
  console.log(`events in the database: ${(await q<{ n: string }>("SELECT count(*) AS n FROM events"))[0]!.n}; load average after ${loadAverage()}`);
} finally {
  await client.end();
  await topology.stop();
}
