// Progress without Redis, measured on the real topology (built api and worker processes, the sender signing,
// a verifying subscriber): webhooks at --rate per second, Redis stopped for --down seconds in the middle.
// Prints, per run and as medians: how many of the webhooks answered 202 while Redis was away were delivered
// before it came back, their end to end latency (sent → verified at the subscriber) p50 / p99 / max, the
// ingress's p99 meanwhile, and how many were lost once Redis was back (should be 0).
//   npm run build && npm run bench:outage [-- --rate 20 --down 30 --runs 3]
import { loadAverage, machine, median, openLoop, percentile } from "./lib.js";
import { startTopology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const rate = Number(args.get("rate") ?? 20);
const downS = Number(args.get("down") ?? 30);
const runs = Number(args.get("runs") ?? 3);

interface Run {
  accepted: number;
  deliveredWhileDown: number;
  p50: number;
  p99: number;
  max: number;
  ingressP99: number;
  lost: number;
}

async function once(): Promise<Run> {
  const topology = await startTopology();
  try {
    const url = `http://127.0.0.1:${topology.apiPort}`;
    const make = () => topology.signedRequest();
    // A short warm phase with Redis up, then the outage.
    await openLoop({ url, rate, durationS: 3, make });
    await waitFor(() => topology.seen.size >= Math.round(rate * 3), 30_000);
    topology.latencies.length = 0;
    const before = topology.seen.size;
    await topology.services.redis.stop();
    const sent = await openLoop({ url, rate, durationS: Math.max(1, downS - 5), make });
    // Redis stays away 5 s more: what was accepted in the last seconds has its chance too.
    await new Promise((r) => setTimeout(r, 5_000));
    const deliveredWhileDown = topology.seen.size - before;
    const latencies = [...topology.latencies].sort((a, b) => a - b);
    await topology.services.redis.start();
    await waitFor(() => topology.seen.size - before >= sent.ok, 60_000);
    return {
      accepted: sent.ok,
      deliveredWhileDown,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
      ingressP99: percentile(sent.latencies, 99),
      lost: sent.ok - (topology.seen.size - before),
    };
  } finally {
    await topology.stop();
  }
}

async function waitFor(probe: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!probe() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

console.log(`# outage bench: ${rate}/s, Redis down ${downS} s, ${runs} runs (${machine()})`);
const results: Run[] = [];
for (let i = 0; i < runs; i++) {
  const load = loadAverage();
  const r = await once();
  results.push(r);
  console.log(
    `run ${i + 1} (load ${load}): accepted while down ${r.accepted}, delivered while down ${r.deliveredWhileDown}, ` +
      `latency p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms, ingress p99 ${r.ingressP99.toFixed(1)} ms, lost ${r.lost}`,
  );
}
const m = (pick: (r: Run) => number) => median(results.map(pick));
console.log(
  `median: delivered while down ${m((r) => r.deliveredWhileDown)} of ${m((r) => r.accepted)}, p50 ${m((r) => r.p50).toFixed(0)} ms, ` +
    `p99 ${m((r) => r.p99).toFixed(0)} ms, max ${m((r) => r.max).toFixed(0)} ms, ingress p99 ${m((r) => r.ingressP99).toFixed(1)} ms, lost ${m((r) => r.lost)}`,
);
