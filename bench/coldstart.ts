// Cold start in the real topology: the built api and worker are spawned, and the moment they report ready
// (the api's GET /readyz answers 200, the worker logs "started") a signing sender starts 100 webhooks/s.
// Prints the end-to-end latency (webhook sent → verified POST received) of the first 20 s, in 5 s windows,
// and of the 20 s after them (steady state, same run), and how long the processes took to become ready.
//   npm run bench:coldstart [-- --rate 100 --duration 20 --runs 3 --redis single|cluster|sentinel --pgbouncer]
import { loadAverage, machine, median, openLoop, percentile, topologyArgs } from "./lib.js";
import { startTopology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const rate = Number(args.get("rate") || 100);
const duration = Number(args.get("duration") || 20);
const runs = Number(args.get("runs") || 1);
const topo = topologyArgs(args);

interface Row {
  readyMs: number;
  first: { p50: number; p99: number; max: number };
  /** p99 of the first second's requests: end to end, and the api's answer alone. */
  firstSecond: { e2e: number; ingress: number };
  windows: number[];
  steady: { p50: number; p99: number };
}

async function run(index: number): Promise<Row> {
  console.log(`\nrun ${index + 1}/${runs}: load average before ${loadAverage()}`);
  const t = await startTopology({ untilReady: true, ...topo, env: { LOG_LEVEL: "info" } });
  try {
    // Arrivals with their send time, so the first seconds can be told apart from the rest.
    const sentAt: number[] = [];
    const make = () => {
      sentAt.push(Date.now());
      return t.signedRequest();
    };
    const start = Date.now();
    const arrivals = () => t.latencies.slice();
    const ingress = await openLoop({ url: `http://127.0.0.1:${t.apiPort}`, rate, durationS: duration, make });
    const expected = sentAt.length;
    for (const until = Date.now() + 60_000; t.seen.size < expected && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    const first = arrivals();
    const sorted = [...first].sort((a, b) => a - b);
    // 5 s windows by arrival order (latencies are pushed as events arrive, which follows send order closely).
    const perWindow = Math.round(rate * 5);
    const windows: number[] = [];
    const firstSecond = (values: number[]) =>
      percentile(
        values.slice(0, rate).sort((a, b) => a - b),
        99,
      );
    for (let i = 0; i < first.length; i += perWindow)
      windows.push(
        percentile(
          first.slice(i, i + perWindow).sort((a, b) => a - b),
          99,
        ),
      );
    t.latencies.length = 0;
    await openLoop({ url: `http://127.0.0.1:${t.apiPort}`, rate, durationS: duration, make: t.signedRequest });
    for (const until = Date.now() + 60_000; t.seen.size < expected + rate * duration * 0.99 && Date.now() < until; )
      await new Promise((r) => setTimeout(r, 50));
    const steady = [...t.latencies].sort((a, b) => a - b);
    const row: Row = {
      readyMs: t.readyMs,
      first: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN },
      firstSecond: { e2e: firstSecond(first), ingress: firstSecond(ingress.latencies) },
      windows,
      steady: { p50: percentile(steady, 50), p99: percentile(steady, 99) },
    };
    console.log(
      `ready after ${row.readyMs} ms; first ${duration} s at ${rate}/s (${first.length}/${expected} delivered, started ${Date.now() - start} ms ago): ` +
        `p50 ${row.first.p50} p99 ${row.first.p99} max ${row.first.max} ms; p99 per 5 s ${windows.join(" / ")}; ` +
        `first second p99 ${row.firstSecond.e2e} (api answer ${row.firstSecond.ingress.toFixed(0)}); next ${duration} s: p50 ${row.steady.p50} p99 ${row.steady.p99} ms`,
    );
    return row;
  } finally {
    await t.stop();
  }
}

console.log(
  `machine: ${machine()}; built api + worker; redis ${topo.redis}${topo.pgbouncer ? ", through pgbouncer" : ""}; ${rate}/s for ${duration} s from ready, then ${duration} s more`,
);
const rows: Row[] = [];
for (let i = 0; i < runs; i++) rows.push(await run(i));
if (runs > 1) {
  console.log(
    `\nmedian of ${runs}: ready ${median(rows.map((r) => r.readyMs))} ms; first ${duration} s p50 ${median(rows.map((r) => r.first.p50))} p99 ${median(rows.map((r) => r.first.p99))} ms; ` +
      `first 5 s p99 ${median(rows.map((r) => r.windows[0]!))}; first second p99 ${median(rows.map((r) => r.firstSecond.e2e))} (api answer ${median(rows.map((r) => r.firstSecond.ingress)).toFixed(0)}); ` +
      `steady p50 ${median(rows.map((r) => r.steady.p50))} p99 ${median(rows.map((r) => r.steady.p99))} ms`,
  );
}
