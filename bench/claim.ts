// The claim's own cost in Postgres: one call of `claim_deliveries` (src/db/delivery-lanes.ts) for many lanes
// at once, as the pump makes it beside a crowd of subscriptions at one host (32 lanes a round), for one busy
// lane, and for a full round (200 lanes). Each call runs in a transaction rolled back after it, so every call
// sees the same backlog; the first calls of each case warm the connection's plans and are not counted.
// Prints, per case, the call's time at the client (p50, p99) and per lane, and Postgres's CPU per call.
//   npm run bench:claim [-- --subscriptions 1000 --calls 300]
import { randomUUID } from "node:crypto";
import { claimDeliveries, type LaneRequest } from "../src/db/delivery-lanes.js";
import { createDatabase } from "../src/db/client.js";
import { poolOf } from "../src/db/clients.js";
import { inOpenTransaction } from "../src/db/sql.js";
import { benchServices, cpuMs, loadAverage, machine, percentile } from "./lib.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const subscriptions = Number(args.get("subscriptions") || 1000);
const calls = Number(args.get("calls") || 300);
const WARM_UP = 20;
/** Deliveries waiting per subscription of the crowd, and for the busy lane. */
const CROWD_BACKLOG = 4;
const BUSY_BACKLOG = 2_000;

console.log(`bench:claim on ${machine()}; load average before: ${loadAverage()}`);
const services = await benchServices();
const db = createDatabase({ url: services.databaseUrl, poolSize: 2 });
const pool = poolOf(db);

/** `count` subscriptions at one host, each with `backlog` due deliveries of its own events. */
async function seed(count: number, backlog: number, url: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO subscriptions (id, url, event_types, secret, max_in_flight, updated_at)
     SELECT gen_random_uuid(), $2, '{reservation.*}', 'whsec_bench', 64, now() FROM generate_series(1, $1) RETURNING id`,
    [count, url],
  );
  const ids = rows.map((r) => r.id);
  await pool.query(
    `WITH e AS (
       INSERT INTO events (id, position, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope)
       SELECT gen_random_uuid(), nextval('bench_positions'), 'bench', 'reservation.created', 'reservations/' || g, 'reservation', $2 || ':' || g, 1, now(),
              'bench:' || $2 || ':' || g, '{"specversion":"1.0"}'::jsonb
         FROM generate_series(1, $1) g RETURNING id, position, subject)
     INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at)
     SELECT gen_random_uuid(), e.id, s.id, 'pending', e.subject, e.position, now() - interval '1 second', now(), now()
       FROM e CROSS JOIN unnest($3::uuid[]) AS s(id)`,
    [backlog, randomUUID(), ids],
  );
  return ids;
}

await pool.query("CREATE SEQUENCE bench_positions");
const crowd = await seed(subscriptions, CROWD_BACKLOG, "http://slow.example:8080/hook");
const [busy] = await seed(1, BUSY_BACKLOG, "http://busy.example/hook");
await pool.query("ANALYZE");
const backendPid = async (client: { query: (q: string) => Promise<{ rows: { pid: number }[] }> }) =>
  (await client.query("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

interface Case {
  name: string;
  lanes: (call: number) => LaneRequest[];
}
const rotate = (size: number, want: number) => (call: number) =>
  Array.from({ length: size }, (_, i) => ({ subscriptionId: crowd[(call * size + i) % crowd.length]!, want }));
const cases: Case[] = [
  { name: "1 busy lane, 16 wanted", lanes: () => [{ subscriptionId: busy!, want: 16 }] },
  { name: "32 crowd lanes, 1 each", lanes: rotate(32, 1) },
  { name: "200 crowd lanes, 2 each", lanes: rotate(200, 2) },
];

const rows: string[] = [];
for (const c of cases) {
  const client = await pool.connect();
  const pid = await backendPid(client);
  const sql = inOpenTransaction(db, client);
  const times: number[] = [];
  let leased = 0;
  let cpuBefore = 0;
  for (let call = 0; call < WARM_UP + calls; call++) {
    if (call === WARM_UP) cpuBefore = cpuMs(pid);
    await client.query("BEGIN");
    const started = process.hrtime.bigint();
    const result = await claimDeliveries(sql, c.lanes(call), randomUUID(), { leaseMs: 30_000, circuitAfterFailures: 5, circuitProbeMs: 1_000 });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    await client.query("ROLLBACK");
    if (call >= WARM_UP) {
      times.push(ms);
      leased += result.claimed.length;
    }
  }
  const cpu = (cpuMs(pid) - cpuBefore) / calls;
  client.release();
  const sorted = times.sort((a, b) => a - b);
  const lanes = c.lanes(0).length;
  const p50 = percentile(sorted, 50);
  rows.push(
    `│ ${c.name.padEnd(24)} │ ${String(calls).padStart(5)} │ ${(leased / calls).toFixed(0).padStart(6)} │ ${p50.toFixed(2).padStart(7)} │ ${percentile(sorted, 99).toFixed(2).padStart(7)} │ ${(p50 / lanes).toFixed(3).padStart(8)} │ ${cpu.toFixed(2).padStart(11)} │`,
  );
}

console.log(`${subscriptions} subscriptions at one host (${CROWD_BACKLOG} due each), one busy lane (${BUSY_BACKLOG} due); ms per call`);
console.log("│ case                     │ calls │ leased │     p50 │     p99 │ p50/lane │ pg CPU/call │");
for (const row of rows) console.log(row);
await db.close();
await services.cleanup();
