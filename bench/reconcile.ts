// Reconciliation's cost in Flovi API calls: N known reservations, all silent past FLOVI_RECONCILE_AFTER_MS,
// against a fake Partner API on loopback. "Before": the per-reservation look-ups alone (one GET each, 100
// per run, run until none is left). "After": the list backfill first (pages of 100) and then the look-ups it
// left. Prints API calls and wall time per N reservations, same run.
//   npm run bench:reconcile [-- --reservations 1000]
import { createDatabase } from "../src/db/client.js";
import { createLogger } from "../src/observability/logger.js";
import { backfillFromList } from "../src/pipeline/flovi/backfill.js";
import { createFloviClient } from "../src/providers/flovi/client.js";
import { reconcileReservations, reconcileStore } from "../src/pipeline/flovi/reconcile.js";
import { floviReservation, startFakeFlovi, FLOVI_API_KEY } from "../scripts/lib/fakes/providers.js";
import { benchServices, loadAverage, machine } from "./lib.js";
import { poolOf } from "../src/db/clients.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const total = Number(args.get("reservations") || 1000);

const services = await benchServices();
const flovi = await startFakeFlovi();
const db = createDatabase({ url: services.databaseUrl, poolSize: 5 });
const log = createLogger({ level: "silent", destination: process.stdout });
const client = createFloviClient({ baseUrl: flovi.url, apiKey: FLOVI_API_KEY, timeoutMs: 5_000 });

/** N known reservations in `taken`, silent for three hours; the API shows each one `driving`. */
async function seed(offset: number) {
  const ids = Array.from({ length: total }, (_, i) => String(offset + i));
  await poolOf(db).query(
    `INSERT INTO reservations (id, state, sequence, last_changed_at, updated_at)
     SELECT id, 'taken', 2, now() - interval '3 hours', now() FROM unnest($1::text[]) AS id`,
    [ids],
  );
  flovi.reservations.clear();
  for (const id of ids) flovi.reservations.set(id, floviReservation(id, "driving", { createdAt: new Date().toISOString() }));
}

async function lookUpsUntilDone(): Promise<void> {
  for (;;) {
    const r = await reconcileReservations({ store: reconcileStore(db), client, log, silentForMs: 2 * 3600_000 });
    if (r.checked === 0) return;
  }
}

async function measure(name: string, offset: number, withBackfill: boolean) {
  await seed(offset);
  flovi.server.requests.length = 0;
  const started = performance.now();
  if (withBackfill) await backfillFromList({ db, client, log, lookbackMs: 30 * 86_400_000, maxPagesPerRun: 1_000 });
  await lookUpsUntilDone();
  const ms = performance.now() - started;
  const lists = flovi.server.requests.filter((r) => r.path === "/customers/v2/reservations").length;
  const gets = flovi.server.requests.filter((r) => r.path.startsWith("/customers/v2/reservation/")).length;
  const { rows } = await poolOf(db).query<{ n: string }>(
    "SELECT count(*) AS n FROM reservations WHERE state = 'driving' AND id::bigint >= $1 AND id::bigint < $2",
    [offset, offset + total],
  );
  console.log(
    `${name.padEnd(28)} ${String(lists + gets).padStart(5)} API calls (${lists} list pages, ${gets} look-ups) per ${total} reservations; ${Math.round(ms)} ms; ${rows[0]!.n} moved to driving`,
  );
}

console.log(
  `machine: ${machine()}; load average before ${loadAverage()}; ${total} known reservations silent past the cut-off, the API shows each one further on`,
);
await measure("before: one GET each", 1_000_000, false);
await poolOf(db).query("TRUNCATE flovi_backfill");
await measure("after: list pages first", 5_000_000, true);
await flovi.close();
await db.close();
await services.cleanup();
