// Delivery v2 in the real topology (signing sender → api → Postgres/Redis → worker(s) → verifying
// subscribers): what one subscriber's trouble costs the others, and what ordered mode costs.
//   neighbour   per rate: the fast subscriber alone, then beside a subscriber answering in 3 s (same events);
//               its p50/p99 in both phases of one run, and the ratio
//   ordered     reservations walking Flovi's five states at a rate: the subscription unordered, then in
//               ordered mode; delivered/s, p50/p99, arrivals out of order per subject
//   backlog     100,000 deliveries waiting for a dead endpoint (seeded in SQL, as a long outage leaves them):
//               worker RSS before and while the fast subscriber takes a steady rate, and its latency
//   crowd       per rate: the fast subscriber alone, then beside 1,000 subscriptions (--crowd-size N) pointing at one
//               host that answers in 8 s (--crowd-delay-ms; bench/crowd-host.ts, a process of its own); its p50/p99 in both phases, the ratio, the most
//               requests the slow host had open at once, and the worker's RSS then (--destination-limit N
//               sets DELIVERY_DESTINATION_MAX_IN_FLIGHT, to see what thousands of open requests cost)
//   filters     per rate: 10 subscriptions without filters, then (a topology of its own) 100 whose filters let one
//               event in ten through (`suffix` on the subject's last digit): the same 10 deliveries per event
//               beside the main subscriber's one; CPU of the api, worker and Postgres per delivered event
//   replay      per rate: the fast subscriber alone, then while another subscription (its own host) replays 100,000
//               stored events (POST /subscriptions/:id/replay); its p50/p99 in both phases, the ratio, how long the
//               replay's 202 took, and how fast the replay was delivered (--replay-rate N: REPLAY_RATE_PER_SECOND;
//               --statements 1 (replay, crowd): where Postgres spent its time meanwhile; --replay-complete: wait for all of it, count the missing)
//   npm run bench:delivery [-- --scenario neighbour,ordered,backlog,crowd,filters,replay --rates 50,300 --duration 10 --runs 3 --workers 1]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { cpuMs, freePort, loadAverage, machine, median, openLoop, percentile, spawnNode, stopChild } from "./lib.js";
import { ADMIN, type BenchSubscriber, startTopology, type Topology } from "./topology.js";

const args = new Map(process.argv.slice(2).map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const scenarios = (args.get("scenario") ?? "neighbour,ordered,backlog").split(",");
const rates = (args.get("rates") ?? "50,300").split(",").map(Number);
const duration = Number(args.get("duration") ?? 10);
const runs = Number(args.get("runs") ?? 1);
const workers = Number(args.get("workers") ?? 1);
const WARM_UP_S = 3;

type Row = Record<string, string | number>;

const rssMb = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
};

/**
 * Sends at `rate` for `duration` s and waits until the subscriber has every event the accepted webhooks
 * emitted. (A webhook that emits nothing is not lost: on this loaded box one reservation's state can, rarely,
 * reach the ingress after its next one, a second later, and is then stale by receipt order, as designed.)
 */
async function phase(t: Topology, rate: number, seconds = duration) {
  t.latencies.length = 0;
  const before = t.seen.size;
  const silentBefore = await silentReports(t);
  const started = Date.now();
  const sent = await openLoop({ url: `http://127.0.0.1:${t.apiPort}`, rate, durationS: seconds, make: t.signedRequest });
  const deadline = Date.now() + 120_000;
  let expected = sent.ok;
  while (t.seen.size - before < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    if (t.seen.size - before >= expected - 100) expected = sent.ok - ((await silentReports(t)) - silentBefore);
  }
  const delivered = t.seen.size - before;
  const silent = sent.ok - expected;
  if (delivered < expected) await explainLoss(t, expected - delivered);
  const sorted = [...t.latencies].sort((a, b) => a - b);
  return {
    accepted: sent.ok,
    silent,
    delivered,
    lost: expected - delivered,
    perSecond: Math.round((delivered / (Date.now() - started)) * 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/** Webhooks processed without an event (stale, repeated): they emit nothing to deliver. */
async function silentReports(t: Topology): Promise<number> {
  const db = new pg.Client({ connectionString: t.services.databaseUrl });
  await db.connect();
  try {
    return (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM reservation_transitions WHERE outcome <> 'applied'")).rows[0]!.n;
  } finally {
    await db.end();
  }
}

/** A phase that did not see every accepted event: where the missing ones stand. */
async function explainLoss(t: Topology, missing: number) {
  const db = new pg.Client({ connectionString: t.services.databaseUrl });
  await db.connect();
  try {
    const inbound = await db.query("SELECT status, status_reason, count(*)::int AS n FROM inbound_deliveries GROUP BY 1, 2");
    const deliveries = await db.query("SELECT status, last_error, count(*)::int AS n FROM webhook_deliveries GROUP BY 1, 2");
    console.log(`${missing} events not seen at the subscriber:`, JSON.stringify({ inbound: inbound.rows, deliveries: deliveries.rows }));
  } finally {
    await db.end();
  }
}

/** The fast subscriber alone against beside someone else's trouble, in one run. */
function comparison(alone: Awaited<ReturnType<typeof phase>>, beside: Awaited<ReturnType<typeof phase>>): Row {
  return {
    "alone p50": alone.p50,
    "alone p99": alone.p99,
    "beside p50": beside.p50,
    "beside p99": beside.p99,
    "p99 ratio": (beside.p99 / alone.p99).toFixed(2),
    lost: alone.lost + beside.lost,
  };
}

/** CPU used from now until the returned function is called, in ms per second of wall clock, by role. */
function cpuPerSecond(t: Topology): () => string {
  const read = () => [cpuMs(t.api.pid!), cpuMs(t.worker.pid!), cpuMs(t.services.pg.pid!, true)];
  const before = read();
  const started = Date.now();
  return () => {
    const seconds = (Date.now() - started) / 1000;
    return read()
      .map((v, i) => Math.round((v - before[i]!) / seconds))
      .join(" · ");
  };
}

/** The first seconds at the rate measured next are not measured (JIT, caches, connection pools). */
async function warmUp(t: Topology, rate: number) {
  await phase(t, rate, WARM_UP_S);
}

async function neighbour(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const rate of rates) {
    const t = await startTopology({ workers });
    try {
      await warmUp(t, rate);
      const alone = await phase(t, rate);
      const slow = await t.addSubscriber({ delayMs: 3_000 });
      const beside = await phase(t, rate);
      const slowGot = slow.seen.size;
      await t.deleteSubscription(slow.id);
      rows.push({
        scenario: `neighbour ${rate}/s`,
        ...comparison(alone, beside),
        "slow got": `${slowGot}/${beside.accepted}`,
      });
    } finally {
      await t.stop();
    }
  }
  return rows;
}

/** With --statements: from now, what Postgres spent its time on; print() shows the ten costliest statements. */
async function topStatements(t: Topology) {
  const db = new pg.Client({ connectionString: t.services.databaseUrl });
  await db.connect();
  await db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()");
  return {
    async print() {
      const top = await db.query(
        `SELECT round(total_exec_time)::int AS ms, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
           FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 10`,
      );
      console.table(top.rows);
      await db.end();
    },
  };
}

/** 1,000 subscriptions at one host answering in 8 s beside the fast subscriber: fairness by destination. */
async function crowd(): Promise<Row[]> {
  const rows: Row[] = [];
  const size = Number(args.get("crowd-size") || 1000);
  const delayMs = Number(args.get("crowd-delay-ms") || 8000);
  const limit = args.get("destination-limit");
  const statements = args.has("statements");
  for (const rate of rates) {
    const t = await startTopology({
      workers,
      env: limit ? { DELIVERY_DESTINATION_MAX_IN_FLIGHT: limit } : {},
      ...(statements ? { statStatements: true } : {}),
    });
    const slow = await startCrowdHost(delayMs);
    try {
      await warmUp(t, rate);
      const alone = await phase(t, rate);
      const rssAlone = rssMb(t.worker.pid!);
      for (let i = 0; i < size; i++) {
        const res = await fetch(`http://127.0.0.1:${t.apiPort}/subscriptions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
          body: JSON.stringify({ url: `${slow.url}/team-${i}`, eventTypes: ["reservation.*"] }),
        });
        if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${await res.text()}`);
      }
      const top = statements ? await topStatements(t) : undefined;
      const cpu = cpuPerSecond(t);
      const beside = await phase(t, rate);
      const used = cpu();
      await top?.print();
      rows.push({
        scenario: `crowd ${rate}/s: ${size} subscriptions at one host answering in ${delayMs} ms`,
        ...comparison(alone, beside),
        "slow host most open": (await slow.stats()).mostOpen,
        "beside: CPU ms/s api · worker · pg": used,
        "worker RSS MB alone": rssAlone,
        "worker RSS MB beside": rssMb(t.worker.pid!),
      });
    } finally {
      await t.stop();
      await stopChild(slow.process);
    }
  }
  return rows;
}

/** The crowd's host (bench/crowd-host.ts) in a process of its own. */
async function startCrowdHost(delayMs: number) {
  const port = await freePort();
  const child = await spawnNode("bench/crowd-host.ts", [String(port), String(delayMs)], {}, "listening");
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    process: child,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as { open: number; mostOpen: number },
  };
}

/** What filters cost: the same deliveries per event, from 10 plain subscriptions or 100 filtered ones. */
async function filters(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const rate of rates) {
    for (const filtered of [false, true]) {
      const t = await startTopology({ workers });
      try {
        const extra: BenchSubscriber[] = [];
        for (let i = 0; i < (filtered ? 100 : 10); i++)
          extra.push(await t.addSubscriber({ body: filtered ? { filters: [{ suffix: { subject: String(i % 10) } }] } : {} }));
        const extraSeen = () => extra.reduce((n, s) => n + s.seen.size, 0);
        await warmUp(t, rate);
        const read = () => cpuMs(t.api.pid!) + cpuMs(t.worker.pid!) + cpuMs(t.services.pg.pid!, true);
        const before = { cpu: read(), extra: extraSeen() };
        const result = await phase(t, rate);
        // Every event also reaches ten of the extra subscribers: wait for those too, then read the CPU.
        const deadline = Date.now() + 60_000;
        while (extraSeen() - before.extra < result.delivered * 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        const delivered = result.delivered + extraSeen() - before.extra;
        rows.push({
          scenario: `filters ${rate}/s: ${filtered ? "100 subscriptions, filters letting 1 event in 10 through" : "10 subscriptions, no filters"}`,
          "deliveries per event": (delivered / result.accepted).toFixed(2),
          "main p50": result.p50,
          "main p99": result.p99,
          lost: result.lost,
          "CPU ms per delivered event (api + worker + pg)": ((read() - before.cpu) / delivered).toFixed(3),
        });
      } finally {
        await t.stop();
      }
    }
  }
  return rows;
}

async function ordered(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const rate of rates) {
    const t = await startTopology({ walk: rate, workers });
    try {
      await warmUp(t, rate);
      const unordered = await phase(t, rate);
      const unorderedOut = t.outOfOrder();
      await t.changeSubscription(t.subscriptionId, { ordering: "subject" });
      const outMid = t.outOfOrder();
      const inOrder = await phase(t, rate);
      rows.push({
        scenario: `ordered ${rate}/s (5 states per reservation)`,
        "none delivered/s": unordered.perSecond,
        "none p50": unordered.p50,
        "none p99": unordered.p99,
        "subject delivered/s": inOrder.perSecond,
        "subject p50": inOrder.p50,
        "subject p99": inOrder.p99,
        "out of order (none / subject)": `${unorderedOut} / ${t.outOfOrder() - outMid}`,
        "stale reports": unordered.silent + inOrder.silent,
        lost: unordered.lost + inOrder.lost,
      });
    } finally {
      await t.stop();
    }
  }
  return rows;
}

async function backlog(): Promise<Row[]> {
  const rate = rates[0] ?? 100;
  const t = await startTopology({ workers });
  const db = new pg.Client({ connectionString: t.services.databaseUrl });
  await db.connect();
  try {
    await warmUp(t, rate);
    const clean = await phase(t, rate);
    const rssBefore = rssMb(t.worker.pid!);
    // A subscriber that went away: nothing listens on its port.
    const dead = await t.addSubscriber();
    await dead.close();
    const seeded = Date.now();
    await db.query(
      `WITH ev AS (
         INSERT INTO events (id, position, relayed_at, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope)
         SELECT gen_random_uuid(), -i, now(), 'flovi', 'reservation.created', 'reservation/dead-' || i, 'reservation', 'dead-' || i, 1, now(), 'dead:' || i,
                jsonb_build_object('specversion', '1.0', 'id', md5(i::text), 'source', 'flovi', 'type', 'reservation.created', 'subject', 'reservation/dead-' || i,
                  'time', now(), 'datacontenttype', 'application/json', 'data', jsonb_build_object('entity', 'reservation', 'entityId', 'dead-' || i, 'sequence', 1))
           FROM generate_series(1, 100000) AS i RETURNING id, position, subject)
       INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at)
       SELECT gen_random_uuid(), ev.id, $1::uuid, 'pending', ev.subject, ev.position, now(), now(), now() FROM ev`,
      [dead.id],
    );
    const seedMs = Date.now() - seeded;
    const during = await phase(t, rate);
    const rssDuring = rssMb(t.worker.pid!);
    const waiting = await db.query<{ n: string; attempts: string }>(
      "SELECT count(*) FILTER (WHERE status = 'pending') AS n, coalesce(sum(attempts), 0) AS attempts FROM webhook_deliveries WHERE subscription_id = $1",
      [dead.id],
    );
    return [
      {
        scenario: `backlog: 100,000 waiting for a dead endpoint, ${rate}/s`,
        "p50 / p99 without": `${clean.p50} / ${clean.p99}`,
        "p50 / p99 with": `${during.p50} / ${during.p99}`,
        "worker RSS MB before / during": `${rssBefore} / ${rssDuring}`,
        "dead attempts made": Number(waiting.rows[0]!.attempts),
        "still waiting": Number(waiting.rows[0]!.n),
        "seed s": (seedMs / 1000).toFixed(1),
        lost: clean.lost + during.lost,
      },
    ];
  } finally {
    await db.end();
    await t.stop();
  }
}

async function replay(): Promise<Row[]> {
  const rows: Row[] = [];
  const total = 100_000;
  const replayRate = args.get("replay-rate");
  for (const rate of rates) {
    const env: Record<string, string> = replayRate ? { REPLAY_RATE_PER_SECOND: replayRate } : {};
    const statements = args.has("statements");
    const t = await startTopology({ workers, env, ...(statements ? { statStatements: true } : {}) });
    const db = new pg.Client({ connectionString: t.services.databaseUrl });
    await db.connect();
    try {
      await warmUp(t, rate);
      const cpuAloneOf = cpuPerSecond(t);
      const alone = await phase(t, rate);
      const cpuAlone = cpuAloneOf();
      // A day of rentals in the log, which the main subscriber (reservation.*) does not take.
      const since = new Date(Date.now() - 60_000);
      await db.query(
        `INSERT INTO events (id, position, relayed_at, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, created_at)
         SELECT gen_random_uuid(), -i, now(), 'greenflow', 'rental.reserved', 'rental/rp-' || i, 'rental', 'rp-' || i, 1, now(), 'replay-bench:' || i,
                jsonb_build_object('specversion', '1.0', 'id', md5(i::text), 'source', 'greenflow', 'type', 'rental.reserved', 'subject', 'rental/rp-' || i,
                  'time', now(), 'datacontenttype', 'application/json',
                  'data', jsonb_build_object('entity', 'rental', 'entityId', 'rp-' || i, 'status', 'reserved', 'phase', 'booked', 'sequence', 1, 'details', '{}'::jsonb)),
                now() - interval '30 seconds'
           FROM generate_series(1, $1::int) AS i`,
        [total],
      );
      // The setup's own 100,000 inserts would otherwise be vacuumed by autovacuum during the measured phase.
      await db.query("VACUUM (ANALYZE) events");
      const target = await t.addSubscriber({ body: { eventTypes: ["rental.*"] } });
      const cpu = cpuPerSecond(t);
      const asked = performance.now();
      const res = await fetch(`http://127.0.0.1:${t.apiPort}/subscriptions/${target.id}/replay`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
        body: JSON.stringify({ since: since.toISOString() }),
      });
      const accepted = (await res.json()) as { id: string; events: number };
      const acceptMs = performance.now() - asked;
      const top = statements ? await topStatements(t) : undefined;
      const beside = await phase(t, rate);
      const cpuBeside = cpu();
      await top?.print();
      const duringPhase = target.seen.size;
      const phaseS = (performance.now() - asked) / 1000;
      // With --replay-complete, wait for the whole replay (at REPLAY_RATE_PER_SECOND: minutes) to count what is missing.
      const deadline = Date.now() + 1_800_000;
      while (args.has("replay-complete") && target.seen.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      rows.push({
        scenario: `replay ${rate}/s: another subscription replays ${accepted.events.toLocaleString("en")} events`,
        ...comparison(alone, beside),
        "202 ms": Math.round(acceptMs),
        "replayed in phase": duringPhase,
        "replay /s": Math.round(duringPhase / phaseS),
        "CPU ms/s api · worker · pg alone": cpuAlone,
        "CPU ms/s beside": cpuBeside,
        ...(args.has("replay-complete") ? { "replay missing": total - target.seen.size } : {}),
      });
    } finally {
      await db.end();
      await t.stop();
    }
  }
  return rows;
}

execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
console.log(`machine: ${machine()}; built api + ${workers} worker process(es); ${duration} s per phase after a ${WARM_UP_S} s warm-up; fsync on`);
console.log("latencies: ms from the webhook's send to the verified POST at the fast subscriber");
const all: Row[][] = [];
for (let i = 0; i < runs; i++) {
  console.log(`\nrun ${i + 1}/${runs}: load average before ${loadAverage()}`);
  const rows: Row[] = [];
  if (scenarios.includes("neighbour")) rows.push(...(await neighbour()));
  if (scenarios.includes("ordered")) rows.push(...(await ordered()));
  if (scenarios.includes("backlog")) rows.push(...(await backlog()));
  if (scenarios.includes("crowd")) rows.push(...(await crowd()));
  if (scenarios.includes("filters")) rows.push(...(await filters()));
  if (scenarios.includes("replay")) rows.push(...(await replay()));
  for (const row of rows) console.table([row]);
  all.push(rows);
}
if (runs > 1) {
  console.log(`\nmedian of ${runs} runs (numeric columns)`);
  for (const [r, row] of all[0]!.entries()) {
    console.table([
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          typeof v === "number" ? median(all.map((run) => Number(run[r]![k]))) : all.map((run) => run[r]![k]).join(" | "),
        ]),
      ),
    ]);
  }
}
