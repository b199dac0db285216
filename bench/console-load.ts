// Operators' reads beside the ingress, in the real topology (built api and worker processes): 1,000
// subscriptions, then Flovi webhooks at a steady rate, alone for one phase and beside 8 console readers for
// the next. Each reader walks every page of /admin/console/subscriptions, again and again. Prints the
// ingress's latency (to the 202) and its non-2xx answers in both phases, and the console pages' latencies.
// With --console-process the readers walk a process of the console role instead (the api serves only webhooks).
// With --pages events the readers are consumers paging GET /events (1,000 a page, 100,000 events seeded) as
// fast as they can, from the start again when they reach the end. With --pages snapshot they page
// GET /snapshot/reservations (1,000 a page) over 100,000 open reservations, and each full pass is timed.
//   npm run bench:console-load [-- --subscriptions 1000 --readers 8 --rate 40 --duration 15 --runs 3 --console-process --pages snapshot]
import { execFileSync } from "node:child_process";
import pg from "pg";
import { loadAverage, machine, median, openLoop, percentile, seedDeliveredEvents, seedOpenReservations } from "./lib.js";
import { ADMIN, startTopology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const subscriptions = Number(args.get("subscriptions") || 1000);
const readers = Number(args.get("readers") || 8);
const rate = Number(args.get("rate") || 40);
const duration = Number(args.get("duration") || 15);
const runs = Number(args.get("runs") || 1);
const apart = args.has("console-process");
const pagesKind = args.get("pages") || "console";
const basic = `Basic ${Buffer.from(`bench:${ADMIN}`).toString("base64")}`;

type Row = Record<string, number | string>;

async function run(index: number): Promise<Row[]> {
  console.log(`\nrun ${index + 1}/${runs}: load average before ${loadAverage()}`);
  const topology = await startTopology({ consoleProcess: apart });
  const base = `http://127.0.0.1:${topology.apiPort}`;
  const pagesBase = apart ? `http://127.0.0.1:${topology.consolePort}` : base;
  try {
    // The subscriptions (matching no event the bench sends: the pages read them, deliveries do not grow).
    for (let i = 0; i < subscriptions; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, subscriptions - i) }, (_, j) =>
          fetch(`${base}/subscriptions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
            body: JSON.stringify({ url: `http://127.0.0.1:9/s/${i + j}?token=t${i + j}`, eventTypes: ["rental.reserved"] }),
          }).then((r) => {
            if (r.status !== 201) throw new Error(`subscription ${i + j}: ${r.status}`);
          }),
        ),
      );
    }
    if (pagesKind === "events") {
      const client = new pg.Client({ connectionString: topology.services.directDatabaseUrl });
      await client.connect();
      await seedDeliveredEvents((text, params) => client.query(text, params), 100_000, topology.subscriptionId);
      // Seeded at positions 0 and below (lib.ts); a consumer's cursor is a positive position: moved to 2..100,001.
      await client.query("UPDATE events SET position = position + 100001 WHERE entity_id LIKE 'seed-%'");
      await client.query("UPDATE event_log_head SET last_position = 100001");
      await client.end();
    }
    if (pagesKind === "snapshot") {
      const client = new pg.Client({ connectionString: topology.services.directDatabaseUrl });
      await client.connect();
      await seedOpenReservations((text, params) => client.query(text, params), 100_000);
      await client.query("VACUUM ANALYZE reservations, events");
      await client.end();
    }
    const ingress = async () => {
      const r = await openLoop({ url: base, rate, durationS: duration, make: topology.signedRequest });
      const sorted = [...r.latencies].sort((a, b) => a - b);
      return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), failed: r.failed, sent: r.sent };
    };
    const alone = await ingress();

    let reading = true;
    const pages: number[] = [];
    const statuses = new Map<number, number>();
    const consumer = async () => {
      let cursor: string | undefined;
      while (reading) {
        const t0 = performance.now();
        const res = await fetch(`${pagesBase}/events?limit=1000${cursor ? `&after=${cursor}` : ""}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const page = (await res.json()) as { cursor?: string; hasMore?: boolean };
        pages.push(performance.now() - t0);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        cursor = page.hasMore ? page.cursor : undefined;
      }
    };
    const passes: number[] = [];
    const snapshotReader = async () => {
      while (reading) {
        const start = performance.now();
        let next: string | null = null;
        let items = 0;
        do {
          const t0 = performance.now();
          const res = await fetch(`${pagesBase}/snapshot/reservations?limit=1000${next ? `&cursor=${next}` : ""}`, {
            headers: { authorization: `Bearer ${ADMIN}` },
          });
          const page = (await res.json()) as { items?: unknown[]; next?: string | null };
          pages.push(performance.now() - t0);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          items += page.items?.length ?? 0;
          next = page.next ?? null;
        } while (next && reading);
        if (!next && items >= 100_000) passes.push(performance.now() - start);
      }
    };
    const reader = async () => {
      while (reading) {
        let next: string | null = "/admin/console/subscriptions";
        while (next && reading) {
          const t0 = performance.now();
          const res = await fetch(`${pagesBase}${next}`, { headers: { authorization: basic } });
          const text = await res.text();
          pages.push(performance.now() - t0);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          next = /<a rel="next" href="([^"]+)"/.exec(text)?.[1]?.replaceAll("&amp;", "&") ?? null;
        }
      }
    };
    const reading8 = Array.from({ length: readers }, pagesKind === "events" ? consumer : pagesKind === "snapshot" ? snapshotReader : reader);
    const beside = await ingress();
    reading = false;
    await Promise.all(reading8);
    const sortedPages = pages.sort((a, b) => a - b);
    const rows: Row[] = [
      { phase: "ingress alone", "p50 ms": alone.p50.toFixed(1), "p99 ms": alone.p99.toFixed(1), "non-2xx": alone.failed, sent: alone.sent },
      { phase: `ingress + ${readers} readers`, "p50 ms": beside.p50.toFixed(1), "p99 ms": beside.p99.toFixed(1), "non-2xx": beside.failed, sent: beside.sent },
      {
        phase: pagesKind === "events" ? "GET /events pages" : pagesKind === "snapshot" ? "GET /snapshot pages" : "console pages",
        "p50 ms": percentile(sortedPages, 50).toFixed(1),
        "p99 ms": percentile(sortedPages, 99).toFixed(1),
        "non-2xx": [...statuses].filter(([s]) => s >= 300).reduce((n, [, c]) => n + c, 0),
        sent: pages.length,
      },
    ];
    if (pagesKind === "snapshot") {
      const sortedPasses = passes.sort((a, b) => a - b);
      rows.push({
        phase: "snapshot of 100,000, whole pass (p99: slowest)",
        "p50 ms": percentile(sortedPasses, 50).toFixed(0),
        "p99 ms": (sortedPasses.at(-1) ?? 0).toFixed(0),
        "non-2xx": 0,
        sent: passes.length,
      });
    }
    console.table(rows);
    return rows;
  } finally {
    await topology.stop();
  }
}

execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log(
  `machine: ${machine()}; ${subscriptions} subscriptions, ${readers} console readers walking every page${apart ? " of a console process" : " of the api"}, Flovi webhooks at ${rate}/s for ${duration} s per phase`,
);
const all: Row[][] = [];
for (let i = 0; i < runs; i++) all.push(await run(i));
if (runs > 1) {
  console.log(`\nmedian of ${runs} runs`);
  console.table(
    all[0]!.map((row, r) => Object.fromEntries(Object.keys(row).map((k) => [k, k === "phase" ? row[k]! : median(all.map((one) => Number(one[r]![k])))]))),
  );
}
