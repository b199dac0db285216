// What a named token costs the api against ADMIN_TOKEN, in the real topology (built api and worker processes):
// GET /subscriptions (20 subscriptions listed) as fast as 16 connections ask: half of them with ADMIN_TOKEN, half
// with a named token, at the same time (so both see the same machine; phases one after the other showed the
// second phase slower whichever token it used). Prints req/s, latency percentiles and the ratio named ÷
// bootstrap per run, then the medians. A named token is looked up once a second per process (the cache's lifetime), not per request.
//   npm run bench:tokens [-- --duration 10 --runs 3 --connections 16]
import autocannon from "autocannon";
import { loadAverage, machine, median } from "./lib.js";
import { ADMIN, startTopology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const duration = Number(args.get("duration") || 10);
const runs = Number(args.get("runs") || 3);
const connections = Number(args.get("connections") || 16);

async function load(url: string, token: string) {
  const result = await autocannon({ url: `${url}/subscriptions`, connections: connections / 2, duration, headers: { authorization: `Bearer ${token}` } });
  const non2xx = result.non2xx + result.errors;
  return { reqPerS: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, non2xx };
}

console.log(`${machine()}; GET /subscriptions, ${connections} connections, ${duration} s per phase`);
const ratios: number[] = [];
const rows: Record<string, string | number>[] = [];
for (let run = 0; run < runs; run++) {
  console.log(`run ${run + 1}/${runs}: load average before ${loadAverage()}`);
  const topology = await startTopology({});
  const url = `http://127.0.0.1:${topology.apiPort}`;
  try {
    for (let i = 0; i < 19; i++) await topology.addSubscriber();
    const made = await fetch(`${url}/admin/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ name: "bench-operator", role: "operator" }),
    });
    if (made.status !== 201) throw new Error(`token: ${made.status} ${await made.text()}`);
    const named = ((await made.json()) as { token: string }).token;
    // Warm both paths, then both at once.
    await Promise.all([load(url, ADMIN), load(url, named)]);
    const [bootstrap, namedResult] = await Promise.all([load(url, ADMIN), load(url, named)]);
    const results = { bootstrap: bootstrap!, named: namedResult! };
    const ratio = results.named!.reqPerS / results.bootstrap!.reqPerS;
    ratios.push(ratio);
    for (const which of ["bootstrap", "named"] as const) rows.push({ run: run + 1, token: which, ...results[which] });
    console.log(`  named ÷ bootstrap req/s: ${ratio.toFixed(3)}`);
  } finally {
    await topology.stop();
  }
}
console.table(rows);
const of = (which: string) => rows.filter((r) => r.token === which).map((r) => Number(r.reqPerS));
console.log(`median req/s: bootstrap ${median(of("bootstrap"))}, named ${median(of("named"))}; median ratio named ÷ bootstrap ${median(ratios).toFixed(3)}`);
