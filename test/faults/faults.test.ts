// Fault injection against the real api and worker processes (npm run test:faults). Each scenario breaks
// something on purpose and then checks the end state in Postgres and at a verifying subscriber.
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  createWorld,
  expectExactlyOnce,
  expectWalksInOrder,
  reservationIds,
  SECRET,
  sendWebhooks,
  signedWebhook,
  subscribeAll,
  until,
  type World,
} from "./harness.js";

let world: World | undefined;

const LOST_CONNECTION = /ECONNREFUSED|ECONNRESET|Connection terminated|Connection is closed|terminating connection|57P01|isn't writeable/i;

/** A process's lines about an outage of `dependency`, and every other warning about a lost connection, in order. */
function outageLines(output: string, dependency: "redis" | "postgres"): string[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { msg: string; level: number; err?: unknown })
    .filter((l) => l.msg.startsWith(`${dependency} is `) || (l.level >= 40 && LOST_CONNECTION.test(JSON.stringify(l.err ?? ""))))
    .map((l) => (l.msg.startsWith(`${dependency} is `) ? l.msg : `${l.msg}: ${JSON.stringify(l).slice(0, 700)}`));
}
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe("fault injection", () => {
  it("Redis stopped in the middle of a burst of 2,000 webhooks, started again after 500 more were accepted", async () => {
    world = await createWorld();
    await world.startApi();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(2_000, "redis");
    const sending = sendWebhooks(w, ids, { concurrency: 25 });
    await until(() => sending.progress.accepted.size >= 300, "300 accepted before the outage");
    await w.redis.stop();
    // The api keeps accepting (rows are durable in Postgres): the outage lasts 500 more webhooks.
    const atStop = sending.progress.accepted.size;
    await until(() => sending.progress.accepted.size >= Math.min(2_000, atStop + 500), "500 accepted while Redis is down");
    await w.redis.start();
    const sent = await sending;
    expect(sent.accepted.size).toBe(2_000);
    const verdict = await expectExactlyOnce(w, sent.accepted, 180_000);
    expect(verdict.problems).toEqual([]);
    // The outage in each process's log: one warning, no reminder (it lasted under a minute), one line back.
    await until(() => outageLines(w.api!.output, "redis").includes("redis is back"), "the api's recovery line");
    for (const proc of [w.api!, ...w.workers]) {
      expect(outageLines(proc.output, "redis")).toEqual(["redis is unreachable", "redis is back"]);
      expect(proc.output).not.toContain("enqueue failed");
      expect(proc.output).not.toContain("worker connection error");
    }
  });

  it("Redis kept down while 20 webhooks/s flow for 30 s: every accepted webhook is applied and delivered before Redis is back", async () => {
    world = await createWorld();
    await world.startApi();
    await world.startWorker();
    await world.startWorker(); // two processes sweep Postgres at once: no state twice, no event under two ids
    await subscribeAll(world);
    const w = world;
    await w.redis.stop();
    // The api stays ready (degraded: a load balancer keeps sending it webhooks) while Postgres answers.
    const ready = await fetch(`http://127.0.0.1:${w.apiPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "degraded", degraded: ["redis"], failing: [] });
    const ids = reservationIds(600, "noredis");
    const sent = await sendWebhooks(w, ids, { concurrency: 10, perSecond: 20 });
    expect(sent.accepted.size).toBe(600);
    expect(sent.refusals.size).toBe(0);
    // Still without Redis: everything accepted is applied and delivered, once, under one id.
    const verdict = await expectExactlyOnce(w, sent.accepted, 60_000);
    expect(verdict.problems).toEqual([]);
    expect(w.redis.running).toBe(false);
    // How long each webhook took from its 202 to its verified arrival (printed, not asserted: docs/operations.md).
    const arrival = new Map(w.subscriber.received.map((r) => [r.event.subject, r.at]));
    const waits = ids.map((id) => arrival.get(`reservation/${id}`)! - sent.acceptedAt.get(id)!).sort((a, b) => a - b);
    console.log(`without Redis: 202 → delivered p50 ${waits[299]} ms, p99 ${waits[593]} ms, max ${waits.at(-1)} ms`);

    // Redis back: the jobs queued before the outage find nothing left to do, and the usual path resumes.
    await w.redis.start();
    const after = reservationIds(100, "redisback");
    const more = await sendWebhooks(w, after, { concurrency: 10 });
    const again = await expectExactlyOnce(w, new Map([...sent.accepted, ...more.accepted]), 60_000);
    expect(again.problems).toEqual([]);
    await until(() => [w.api!, ...w.workers].every((p) => outageLines(p.output, "redis").includes("redis is back")), "the recovery lines");
    for (const proc of [w.api!, ...w.workers]) expect(outageLines(proc.output, "redis")).toEqual(["redis is unreachable", "redis is back"]);
  });

  it("Postgres stopped during a burst until 50 webhooks were refused: 503 (never 2xx without durability), then recovery", async () => {
    world = await createWorld();
    await world.startApi();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(600, "pg");
    const sending = sendWebhooks(w, ids, { concurrency: 10 });
    await until(() => sending.progress.accepted.size >= 100, "100 accepted before the outage");
    await w.pg.stop();
    // Nothing can be stored: the outage lasts until 50 webhooks were refused with 503.
    await until(() => (sending.progress.refusals.get("503") ?? 0) >= 50, "50 refusals while Postgres is down");
    await w.pg.start();
    const sent = await sending;
    expect(sent.accepted.size).toBe(600);
    await until(() => [w.api!, ...w.workers].every((p) => outageLines(p.output, "postgres").includes("postgres is back")), "the recovery lines");
    for (const proc of [w.api!, ...w.workers]) expect(outageLines(proc.output, "postgres")).toEqual(["postgres is unreachable", "postgres is back"]);
    expect(sent.refusals.get("503") ?? 0).toBeGreaterThan(0);
    // Every 202 names a stored row: nothing was acknowledged without being durable.
    const { rows } = await w.db.query<{ id: string }>("SELECT id FROM inbound_deliveries WHERE id = ANY($1::uuid[])", [[...sent.accepted.values()]]);
    expect(rows).toHaveLength(600);
    const verdict = await expectExactlyOnce(w, sent.accepted, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("a worker killed with SIGKILL mid-batch and restarted: nothing lost, nothing doubled", async () => {
    world = await createWorld();
    await world.startApi();
    const first = await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(1_200, "kill");
    const sending = sendWebhooks(w, ids, { concurrency: 25 });
    await until(() => sending.progress.accepted.size >= 400, "400 accepted before the kill");
    first.child.kill("SIGKILL");
    await first.exited;
    // Traffic goes on with no worker at all before the new one starts.
    const atKill = sending.progress.accepted.size;
    await until(() => sending.progress.accepted.size >= Math.min(1_200, atKill + 100), "100 accepted with no worker");
    await w.startWorker();
    const sent = await sending;
    const verdict = await expectExactlyOnce(w, sent.accepted, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("the subscriber down for a while, then back: everything delivered once per id, by two worker processes", async () => {
    // Every event is to be refused twice on its schedule: the circuit, which would probe a down endpoint one
    // request a second instead (test/integration/delivery-lanes.test.ts), is off here.
    world = await createWorld({ env: { DELIVERY_CIRCUIT_AFTER_FAILURES: "0" } });
    await world.startApi();
    await world.startWorker();
    await world.startWorker(); // two processes on one queue: no event may go out under two ids
    await subscribeAll(world);
    const w = world;
    let down = true;
    w.subscriber.respond = () => (down ? { status: 503 } : { status: 204 });
    const ids = reservationIds(200, "sub");
    const sent = await sendWebhooks(w, ids, { concurrency: 10 });
    // Every event was offered at least twice and refused each time before the subscriber comes back.
    await until(
      () => {
        const refused = new Map<string, number>();
        for (const a of w.subscriber.attempts) if (a.status === 503) refused.set(a.webhookId, (refused.get(a.webhookId) ?? 0) + 1);
        return refused.size >= ids.length && [...refused.values()].every((n) => n >= 2);
      },
      "every event refused twice",
      60_000,
    );
    expect(w.subscriber.received).toHaveLength(0);
    down = false;
    const verdict = await expectExactlyOnce(w, sent.accepted, 120_000);
    expect(verdict.problems).toEqual([]);
    // Retries reused the event id: every failed attempt's webhook-id is one that was later delivered.
    const deliveredIds = new Set(w.subscriber.received.map((r) => r.webhookId));
    const failedIds = w.subscriber.attempts.filter((a) => a.status === 503).map((a) => a.webhookId);
    expect(failedIds.length).toBeGreaterThan(0);
    expect(failedIds.every((id) => deliveredIds.has(id))).toBe(true);
    // In retry order: for each event, failures come before the success.
    for (const id of deliveredIds) {
      const attempts = w.subscriber.attempts.filter((a) => a.webhookId === id);
      expect(attempts.at(-1)!.status).toBe(204);
    }
  });

  it("reservations walking created → final_costs across a worker SIGKILL and a Redis restart: every state once, in sequence", async () => {
    // The webhooks carry a fixed time (2026-06-01): a reservation left sealed while Redis is down would be
    // "sealed six months ago" and rightly flagged `final_costs_overdue`, a sixth event the walk does not expect.
    world = await createWorld({ env: { FLOVI_FINAL_COSTS_OVERDUE_MS: String(2 * 365 * 24 * 3_600_000) } });
    await world.startApi();
    const first = await world.startWorker();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const states = ["created", "taken", "driving", "sealed", "final_costs"];
    const ids = reservationIds(200, "walk");
    const walking = sendWebhooks(w, ids, { concurrency: 40, states, giveUpAt: Date.now() + 150_000 });
    await until(() => walking.progress.accepted.size >= 200, "200 accepted before the kill");
    first.child.kill("SIGKILL");
    await first.exited;
    await w.redis.stop();
    const atStop = walking.progress.accepted.size;
    await until(() => walking.progress.accepted.size >= Math.min(ids.length * states.length, atStop + 200), "200 accepted while Redis is down");
    await w.redis.start();
    await w.startWorker();
    const sent = await walking;
    expect(sent.accepted.size).toBe(ids.length * states.length);
    const verdict = await expectWalksInOrder(w, ids, states, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("SIGTERM during load: the api stops accepting, in-flight requests finish, workers hand back, exit in time", async () => {
    world = await createWorld();
    const api = await world.startApi();
    const worker = await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(1_500, "term");
    const sending = sendWebhooks(w, ids.slice(0, 750), { concurrency: 25, giveUpAt: Date.now() + 10_000 });
    const firstHalf = sending.catch(() => undefined);
    await until(() => sending.progress.accepted.size >= 200, "200 accepted before SIGTERM");
    api.child.kill("SIGTERM");
    worker.child.kill("SIGTERM");
    const [apiCode, workerCode] = await Promise.all([api.exited, worker.exited]);
    const tail = (p: { output: string }) =>
      p.output
        .split("\n")
        .filter((l) => /"level":(40|50|60)|shutdown/.test(l))
        .slice(-15)
        .join("\n");
    expect(apiCode, `api exit; last lines:\n${tail(api)}`).toBe(0);
    expect(workerCode, `worker exit; last lines:\n${tail(worker)}`).toBe(0);
    // Exit 0 is "in time": past SHUTDOWN_TIMEOUT_MS a process logs "shutdown timed out" and exits 1.
    expect(api.output).toContain('"msg":"shutdown complete"');
    await firstHalf;
    // Whatever got a 202 before the stop is stored; bring the service back and send the rest (and any refused).
    await w.startApi();
    await w.startWorker();
    const sent = await sendWebhooks(w, ids, { concurrency: 25 });
    const verdict = await expectExactlyOnce(w, sent.accepted, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("bad inputs at volume: only the good ones produce state and events", async () => {
    world = await createWorld({ env: { WEBHOOK_BODY_LIMIT_BYTES: "4096" } });
    await world.startApi();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const url = `http://127.0.0.1:${w.apiPort}/webhooks/flovi`;
    const good = reservationIds(300, "good");
    const statuses = new Map<string, number[]>();
    const note = (kind: string, status: number) => statuses.set(kind, [...(statuses.get(kind) ?? []), status]);
    const post = async (kind: string, body: string, signature?: string) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(signature ? { "x-hub-signature": signature } : {}) },
        body,
      });
      note(kind, res.status);
      return res;
    };
    const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    const accepted = new Map<string, string>();
    const jobs: Promise<unknown>[] = [];
    for (const id of good) {
      const { body, signature } = signedWebhook(id);
      jobs.push(post("good", body, signature).then(async (r) => accepted.set(id, ((await r.json()) as { id: string }).id)));
      jobs.push(post("duplicate", body, signature));
      jobs.push(post("forged", body.replace('"created"', '"cancelled"'), signature));
      jobs.push(post("wrong-secret", body, sign(body, "attacker")));
      jobs.push(post("unsigned", body));
      const big = JSON.stringify({ ...JSON.parse(body), reservationId: `big-${id}`, padding: "x".repeat(8_000) });
      jobs.push(post("oversized", big, sign(big)));
      jobs.push(post("malformed", `{"state": "created", "reservationId": "${id}-m"`, sign(`{"state": "created", "reservationId": "${id}-m"`)));
      if (jobs.length > 200) await Promise.all(jobs.splice(0));
    }
    await Promise.all(jobs);
    expect(new Set(statuses.get("good"))).toEqual(new Set([202]));
    expect(new Set(statuses.get("duplicate"))).toEqual(new Set([202]));
    for (const kind of ["forged", "wrong-secret", "unsigned"]) expect(new Set(statuses.get(kind)), kind).toEqual(new Set([401]));
    expect(new Set(statuses.get("oversized"))).toEqual(new Set([413]));
    expect(new Set(statuses.get("malformed"))).toEqual(new Set([400]));

    // The malformed ones are stored as rejected (for inspection), never processed; everything else as checked.
    await w.db.query("DELETE FROM inbound_deliveries WHERE status = 'rejected'");
    const verdict = await expectExactlyOnce(w, accepted, 120_000);
    expect(verdict.problems).toEqual([]);
    const { rows } = await w.db.query<{ n: string }>("SELECT count(*) AS n FROM reservations WHERE state <> 'created' OR id LIKE 'big-%' OR id LIKE '%-m'");
    expect(Number(rows[0]!.n)).toBe(0);
  });
});
