// Fault injection against the real api and worker processes (npm run test:faults). Each scenario breaks
// something on purpose and then checks the end state in Postgres and at a verifying subscriber.
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, expectExactlyOnce, expectWalksInOrder, reservationIds, SECRET, sendWebhooks, signedWebhook, subscribeAll, type World } from "./harness.js";

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fault injection", () => {
  it("Redis stopped in the middle of a burst of 2,000 webhooks, started again 10 s later", async () => {
    world = await createWorld();
    await world.startApi();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(2_000, "redis");
    const sending = sendWebhooks(w, ids, { concurrency: 25 });
    await sleep(1_500);
    await w.redis.stop();
    await sleep(10_000);
    await w.redis.start();
    const sent = await sending;
    expect(sent.accepted.size).toBe(2_000);
    const verdict = await expectExactlyOnce(w, sent.accepted, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("Postgres stopped for 10 s during a burst: 503 (never 2xx without durability), then recovery", async () => {
    world = await createWorld();
    await world.startApi();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(600, "pg");
    const sending = sendWebhooks(w, ids, { concurrency: 10 });
    await sleep(1_000);
    await w.pg.stop();
    await sleep(10_000);
    await w.pg.start();
    const sent = await sending;
    expect(sent.accepted.size).toBe(600);
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
    await sleep(2_500);
    first.child.kill("SIGKILL");
    await first.exited;
    await sleep(1_000);
    await w.startWorker();
    const sent = await sending;
    const verdict = await expectExactlyOnce(w, sent.accepted, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("the subscriber down for a while, then back: everything delivered once per id, by two worker processes", async () => {
    world = await createWorld();
    await world.startApi();
    await world.startWorker();
    await world.startWorker(); // two processes on one queue: no event may go out under two ids
    await subscribeAll(world);
    const w = world;
    let down = true;
    w.subscriber.respond = () => (down ? { status: 503 } : { status: 204 });
    const ids = reservationIds(200, "sub");
    const sent = await sendWebhooks(w, ids, { concurrency: 10 });
    await sleep(5_000);
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
    world = await createWorld();
    await world.startApi();
    const first = await world.startWorker();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const states = ["created", "taken", "driving", "sealed", "final_costs"];
    const ids = reservationIds(200, "walk");
    const walking = sendWebhooks(w, ids, { concurrency: 40, states, giveUpAt: Date.now() + 150_000 });
    await sleep(1_500);
    first.child.kill("SIGKILL");
    await first.exited;
    await sleep(500);
    await w.redis.stop();
    await sleep(5_000);
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
    const firstHalf = sendWebhooks(w, ids.slice(0, 750), { concurrency: 25, giveUpAt: Date.now() + 10_000 }).catch(() => undefined);
    await sleep(1_500);
    const stoppedAt = Date.now();
    api.child.kill("SIGTERM");
    worker.child.kill("SIGTERM");
    const [apiCode, workerCode] = await Promise.all([api.exited, worker.exited]);
    const tail = (p: { output: string }) => p.output.split("\n").filter((l) => /"level":(40|50|60)|shutdown/.test(l)).slice(-15).join("\n");
    expect(apiCode, `api exit; last lines:\n${tail(api)}`).toBe(0);
    expect(workerCode, `worker exit; last lines:\n${tail(worker)}`).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000 + 5_000);
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
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(signature ? { "x-hub-signature": signature } : {}) }, body });
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
