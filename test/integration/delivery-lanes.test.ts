// Delivery v2 (docs/delivery.md): every subscription is a lane of its own. Real Postgres, Redis, worker
// processes' pumps and HTTP subscribers on loopback; assertions on counts and order of arrival, never on time.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeServer } from "../../scripts/lib/fakes/http-server.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const STATES = ["created", "taken", "driving", "sealed", "final_costs"] as const;
const subscribers: Subscriber[] = [];
const contexts: TestContext[] = [];

afterAll(async () => {
  for (const c of contexts) await c.close();
  for (const s of subscribers) await s.close();
});

async function context(env: Record<string, string> = {}) {
  const ctx = await createTestContext({ DELIVERY_RETRY_SCHEDULE: "0,300ms,300ms,300ms,300ms,300ms", DELIVERY_DISABLE_AFTER_FAILURES: "0", ...env });
  contexts.push(ctx);
  return ctx;
}

async function newSubscriber() {
  const sub = await startSubscriber();
  subscribers.push(sub);
  return sub;
}

async function subscribe(ctx: TestContext, sub: { url: string; secrets?: string[] }, body: Record<string, unknown>) {
  const res = await request(ctx.app)
    .post("/subscriptions")
    .set(auth)
    .send({ url: sub.url, eventTypes: ["reservation.*"], ...body });
  if (res.status !== 201) throw new Error(`subscribe failed: ${res.status} ${JSON.stringify(res.body)}`);
  sub.secrets?.push(res.body.secret);
  return res.body as { id: string; secret: string; ordering: string; maxInFlight: number; rateLimitPerSecond: number | null };
}

/** Posts each reservation's states in Flovi's order: one wave per state, every reservation at once. */
async function walk(ctx: TestContext, reservations: string[], states: readonly string[] = STATES) {
  for (const state of states) {
    const answers = await Promise.all(reservations.map((id) => postFlovi(ctx.app, statusChange(state, id))));
    for (const a of answers) expect(a.status).toBe(202);
  }
}

const reservations = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}-${randomUUID().slice(0, 6)}`);

describe("isolation: a subscriber delays only its own deliveries", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // A small per-process capacity, so that the bad endpoints could take every slot if nothing stopped them.
    ctx = await context({ DELIVERY_TIMEOUT_MS: "1500", DELIVERY_CONCURRENCY: "8" });
    await ctx.startWorker();
    await ctx.startWorker();
  });

  it("fast, slow, hanging (past the timeout) and down subscribers on the same events: the fast one gets everything first", async () => {
    const fast = await newSubscriber();
    const slow = await newSubscriber();
    slow.respond = () => ({ status: 200, delayMs: 1_000 });
    const hanging = await newSubscriber();
    hanging.respond = () => ({ status: 200, delayMs: 30_000 });
    const down = await startFakeServer();
    const downUrl = `${down.url}/hooks`;
    await down.close(); // nothing listens there any more: connection refused
    // The bad ones subscribe first, so that they come first wherever lanes are served in order.
    await subscribe(ctx, { url: downUrl }, {});
    const { id: hangingId } = await subscribe(ctx, hanging, {});
    await subscribe(ctx, slow, {});
    await subscribe(ctx, fast, {});

    const ids = reservations(60, "iso");
    await walk(ctx, ids, ["created"]);
    await eventually(async () => fast.received.length === 60, 20_000, "every event at the fast subscriber");
    // The moment the fast subscriber has all 60, the others are far behind: each held only its own share of
    // slots (2 workers × 8 slots / 4 lanes), so few of their requests had even started.
    const startedAt = (s: Subscriber) => s.server.requests.length;
    expect(startedAt(slow)).toBeLessThan(30);
    expect(startedAt(hanging)).toBeLessThan(30);
    expect(new Set(fast.received.map((r) => r.event.subject)).size).toBe(60);
    // The hanging endpoint never answered within the timeout: its deliveries wait for retries, not delivered.
    const hangingLane = await request(ctx.app).get(`/subscriptions/${hangingId}`).set(auth);
    expect(hangingLane.body.deliveries.succeeded ?? 0).toBe(0);
  });
});

describe("per-subscription limits", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await context();
    await ctx.startWorker();
    await ctx.startWorker();
  });

  it("an endpoint limited to 2 in flight never sees a third concurrent request, across two worker processes", async () => {
    let open = 0;
    let most = 0;
    const sub = await newSubscriber();
    sub.respond = () => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => (open -= 1), 60);
      return { status: 204, delayMs: 60 };
    };
    const created = await subscribe(ctx, sub, { maxInFlight: 2 });
    expect(created).toMatchObject({ maxInFlight: 2, ordering: "none", rateLimitPerSecond: null });
    await walk(ctx, reservations(30, "lim"), ["created"]);
    await eventually(async () => sub.received.length === 30, 20_000, "30 deliveries");
    expect(most).toBe(2);
  });

  it("a rate limit spaces the requests: no second holds more than the rate allows", async () => {
    const sub = await newSubscriber();
    await subscribe(ctx, sub, { rateLimitPerSecond: 4 });
    await walk(ctx, reservations(12, "rate"), ["created"]);
    await eventually(async () => sub.received.length === 12, 20_000, "12 deliveries");
    const times = sub.server.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    // A burst of one second's worth (4), then one every 250 ms: any 1 s window holds at most 4 + 4.
    // (Unlimited, the 12 would arrive within a few milliseconds; the claim's rate arithmetic itself is tested on a
    // held clock in claim-sql.test.ts.)
    for (const t of times) expect(times.filter((u) => u >= t && u < t + 1_000).length).toBeLessThanOrEqual(8);
  });

  it("429 with Retry-After pauses the whole lane and never counts towards disabling", async () => {
    const strict = await context({ DELIVERY_DISABLE_AFTER_FAILURES: "2" });
    await strict.startWorker();
    const sub = await newSubscriber();
    let throttled = 0;
    // The 429s come slowly (300 ms): the pause counts from the answer, not from the request.
    sub.respond = () => (throttled++ < 3 ? { status: 429, headers: { "retry-after": "1" }, delayMs: 300 } : { status: 204 });
    const { id } = await subscribe(strict, sub, { maxInFlight: 1 });
    await walk(strict, reservations(3, "429"), ["created"]);
    await eventually(async () => sub.received.length === 3, 20_000, "delivered after the pauses");
    const s = await strict.prisma.subscription.findUniqueOrThrow({ where: { id } });
    expect(s).toMatchObject({ status: "active", consecutiveFailures: 0 });
    // Each 429 paused the lane: the next request came at least the asked second after the answer (the request
    // plus its 300 ms), whatever delivery it was.
    const times = sub.server.requests.map((r) => r.receivedAt);
    // wall clock: the pause a subscriber asked for, between real requests.
    for (let i = 1; i <= 3; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(300 + 950);
  });
});

describe("circuit", () => {
  it("an endpoint failing every attempt is probed one request at a time; its first success ends the probing", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,1h", DELIVERY_CIRCUIT_AFTER_FAILURES: "3", DELIVERY_CIRCUIT_PROBE_MS: "400" });
    await ctx.startWorker();
    const sub = await newSubscriber();
    let healthy = false;
    sub.respond = () => (healthy ? { status: 204 } : { status: 503 });
    const { id } = await subscribe(ctx, sub, { maxInFlight: 1 });
    await walk(ctx, reservations(12, "circuit"), ["created"]);
    await eventually(async () => sub.server.requests.length >= 6, 15_000, "six attempts");
    const times = sub.server.requests.map((r) => r.receivedAt);
    // After three failures in a row, one probe per 400 ms, whatever waits behind it (without the circuit the
    // retries, scheduled at 0, would follow each other within milliseconds). The claims are 400 ms apart; the
    // subscriber sees their requests arrive with the send's jitter, tens of ms on a loaded box (once 376 ms
    // apart under PgBouncer in CI).
    // wall clock: probes between real requests (claim-sql.test.ts tests the probe's timing on a held clock).
    for (let i = 4; i < 6; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(300);
    healthy = true;
    await eventually(async () => (await ctx.prisma.subscription.findUniqueOrThrow({ where: { id } })).consecutiveFailures === 0, 10_000, "run ended");
    // The deliveries that were only waiting for a probe go out; the ones that failed wait for their retry (1 h).
    const failedFirst = new Set(sub.attempts.filter((a) => a.status === 503).map((a) => a.webhookId));
    await eventually(async () => sub.received.length === 12 - failedFirst.size, 15_000, "the rest delivered");
    // (The subscriber answers before the attempt is recorded: wait for the records.)
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: id, status: "succeeded" } })) === 12 - failedFirst.size,
      10_000,
      "recorded",
    );
    expect(await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: id, status: "pending", attempts: 0 } })).toBe(0);
  });
});

describe("ordered mode", () => {
  afterEach(async () => {
    for (const c of contexts) await c.prisma.subscription.updateMany({ where: { deletedAt: null }, data: { deletedAt: new Date(), status: "disabled" } });
  });

  /** Refuses a third of first attempts once (503), records every attempt's subject and sequence. */
  function flaky(sub: Subscriber) {
    const seen = new Set<string>();
    let n = 0;
    const attempts: { subject: string; sequence: number; status: number }[] = [];
    sub.respond = (req) => {
      const event = JSON.parse(req.body) as { id: string; subject: string; data: { sequence: number } };
      const first = !seen.has(event.id);
      seen.add(event.id);
      const status = first && n++ % 3 === 0 ? 503 : 204;
      attempts.push({ subject: event.subject, sequence: event.data.sequence, status });
      return { status };
    };
    return attempts;
  }

  async function orderedRun(workers: number) {
    const ctx = await context();
    for (let i = 0; i < workers; i++) await ctx.startWorker();
    const ordered = await newSubscriber();
    const plain = await newSubscriber();
    const orderedAttempts = flaky(ordered);
    const plainAttempts = flaky(plain);
    const sub = await subscribe(ctx, ordered, { ordering: "subject" });
    expect(sub.ordering).toBe("subject");
    await subscribe(ctx, plain, {});
    const ids = reservations(40, `ord${workers}`);
    await walk(ctx, ids);
    await eventually(async () => ordered.received.length >= 200 && plain.received.length >= 200, 60_000, "200 deliveries to each").catch((error: Error) => {
      throw new Error(`${error.message}: ordered=${ordered.received.length} plain=${plain.received.length}`);
    });
    await ctx.settled();
    return { ids, ordered, plain, orderedAttempts, plainAttempts };
  }

  function bySubject<T extends { subject: string }>(rows: T[]) {
    const map = new Map<string, T[]>();
    for (const r of rows) map.set(r.subject, [...(map.get(r.subject) ?? []), r]);
    return map;
  }

  for (const workers of [1, 2]) {
    it(`40 subjects × 5 states, a third of first attempts refused once: every subject in order, none missing (${workers} worker${workers > 1 ? "s" : ""})`, async () => {
      const { ids, ordered, plain, orderedAttempts, plainAttempts } = await orderedRun(workers);
      expect(ordered.received).toHaveLength(200);
      const received = bySubject(ordered.received.map((r) => ({ subject: r.event.subject, sequence: r.event.data.sequence })));
      expect(received.size).toBe(40);
      for (const id of ids) expect(received.get(`reservation/${id}`)!.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5]);
      // Not even an attempt of event n+1 went out before event n was delivered.
      for (const [, attempts] of bySubject(orderedAttempts)) {
        const sequences = attempts.map((a) => a.sequence);
        expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      }
      expect(orderedAttempts.filter((a) => a.status === 503).length).toBeGreaterThanOrEqual(60);
      // The unordered subscription beside it got everything too, and (refusals retried later) out of order.
      expect(plain.received).toHaveLength(200);
      expect(plainAttempts.filter((a) => a.status === 503).length).toBeGreaterThanOrEqual(60);
      const outOfOrder = [...bySubject(plain.received.map((r) => ({ subject: r.event.subject, sequence: r.event.data.sequence }))).values()].filter((rows) =>
        rows.some((r, i) => i > 0 && r.sequence < rows[i - 1]!.sequence),
      );
      expect(outOfOrder.length).toBeGreaterThan(0);
    }, 90_000);
  }

  it("a failing head holds back its own subject only; the API shows the subjects held and since when", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,5s,5s" });
    await ctx.startWorker();
    const sub = await newSubscriber();
    const [stuck, free] = reservations(2, "head");
    sub.respond = (req) => (JSON.parse(req.body).subject === `reservation/${stuck}` ? { status: 500 } : { status: 204 });
    const { id } = await subscribe(ctx, sub, { ordering: "subject" });
    await walk(ctx, [stuck!, free!], ["created", "taken", "driving"]);
    await eventually(async () => sub.received.length === 3, 15_000, "the free subject's three events");
    const detail = await eventually(
      async () => {
        const res = await request(ctx.app).get(`/subscriptions/${id}`).set(auth);
        return res.body.lane?.held === 2 ? res.body : undefined;
      },
      10_000,
      "two held",
    );
    expect(detail.lane).toMatchObject({ held: 2, heldSubjects: 1, retrying: 1 });
    expect(new Date(detail.lane.heldSince).getTime()).toBeLessThanOrEqual(Date.now());
    // Only the head of the stuck subject was ever attempted.
    const stuckAttempts = sub.server.requests.filter((r) => JSON.parse(r.body).subject === `reservation/${stuck}`);
    expect(new Set(stuckAttempts.map((r) => JSON.parse(r.body).data.sequence))).toEqual(new Set([1]));

    // Leaving ordered mode releases what was held.
    const changed = await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ ordering: "none" });
    expect(changed.status).toBe(200);
    expect(changed.body.ordering).toBe("none");
    await eventually(
      async () => sub.server.requests.some((r) => JSON.parse(r.body).subject === `reservation/${stuck}` && JSON.parse(r.body).data.sequence === 3),
      10_000,
      "released",
    );
  });
});

describe("one attempt path", () => {
  it("a retry never depends on the process that made the first attempt", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,1s,1s" });
    const first = await ctx.startWorker();
    const sub = await newSubscriber();
    sub.respond = (_req, attempt) => (attempt === 1 ? { status: 503 } : { status: 204 });
    await subscribe(ctx, sub, {});
    await walk(ctx, reservations(1, "handover"), ["created"]);
    const delivery = await eventually(
      async () => ctx.prisma.webhookDelivery.findFirst({ where: { attempts: 1, status: "pending" } }),
      10_000,
      "first attempt recorded",
    );
    expect(delivery).toMatchObject({ scheduleStep: 1 });
    await first.close();
    await ctx.startWorker();
    await eventually(async () => sub.received.length === 1, 10_000, "the retry, by the other process");
    // The subscriber has it; the attempt is recorded just after its answer.
    const done = await eventually(
      async () => {
        const row = await ctx.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
        return row.status === "succeeded" ? row : undefined;
      },
      10_000,
      "the retry recorded",
    );
    expect(done).toMatchObject({ status: "succeeded", attempts: 2, scheduleStep: 2, leasedUntil: null });
  });
});

describe("operators", () => {
  it("a delivery waiting for its next retry is sent now on request; a held one answers 409 and stays in line", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,1h" });
    await ctx.startWorker();
    const sub = await newSubscriber();
    let requests = 0;
    sub.respond = () => (++requests === 1 ? { status: 503 } : { status: 204 });
    const { id } = await subscribe(ctx, sub, { ordering: "subject" });
    const [reservation] = reservations(1, "now");
    await walk(ctx, [reservation!], ["created", "taken"]);
    // A 202 means stored: the first event's attempt can end before the second is applied, so wait for both.
    const { waiting, held } = await eventually(
      async () => {
        const waiting = await ctx.prisma.webhookDelivery.findFirst({ where: { subscriptionId: id, status: "pending", attempts: 1 } });
        const held = await ctx.prisma.webhookDelivery.findFirst({ where: { subscriptionId: id, status: "held" } });
        return waiting && held ? { waiting, held } : undefined;
      },
      10_000,
      "a retry an hour away, and the next event held behind it",
    );
    const refused = await request(ctx.app).post(`/admin/deliveries/${held.id}/retry`).set(auth);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("delivery_held");
    const now = await request(ctx.app).post(`/admin/deliveries/${waiting.id}/retry`).set(auth);
    expect(now.status).toBe(202);
    expect(now.body).toMatchObject({ kind: "queued", sendNow: true });
    // Sent now, and the held one right after it: in order.
    await eventually(async () => sub.received.length === 2, 10_000, "both delivered");
    expect(sub.received.map((r) => r.event.data.sequence)).toEqual([1, 2]);
    expect(await ctx.prisma.auditLog.count({ where: { action: "delivery.send-now", target: waiting.id } })).toBe(1);
  });

  it("turning ordered mode on orders the deliveries already waiting", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,1h" });
    await ctx.startWorker();
    const sub = await newSubscriber();
    sub.respond = () => ({ status: 503 });
    const { id } = await subscribe(ctx, sub, {});
    const [reservation] = reservations(1, "turn");
    await walk(ctx, [reservation!], ["created", "taken", "driving"]);
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: id, status: "pending", attempts: 1 } })) === 3,
      10_000,
      "three retries an hour away",
    );
    expect(await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: id, subject: { not: null } } })).toBe(0);
    expect((await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ ordering: "subject" })).status).toBe(200);
    const rows = await ctx.prisma.webhookDelivery.findMany({ where: { subscriptionId: id, status: "pending" }, select: { subject: true } });
    expect(rows.map((r) => r.subject)).toEqual(Array(3).fill(`reservation/${reservation}`));
  });
});

describe("subscription input", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await context();
  });

  it("an unknown field is a 400 that names it and lists the allowed ones; nothing is created", async () => {
    const before = await ctx.prisma.subscription.count();
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/x", eventTypes: ["*"], ordring: "subject" });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      'invalid request body: unknown field "ordring"; allowed: url, destination, description, eventTypes, ordering, maxInFlight, rateLimitPerSecond, headers, filters, allowAuthorizationHeader, allowDuplicate',
    );
    expect(res.body.issues).toEqual([
      {
        path: "",
        message:
          'unknown field "ordring"; allowed: url, destination, description, eventTypes, ordering, maxInFlight, rateLimitPerSecond, headers, filters, allowAuthorizationHeader, allowDuplicate',
      },
    ]);
    expect(await ctx.prisma.subscription.count()).toBe(before);
  });

  it.each([[{ ordering: "random" }], [{ maxInFlight: 0 }], [{ maxInFlight: 1.5 }], [{ rateLimitPerSecond: -1 }]])("refuses %j", async (extra) => {
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/x", eventTypes: ["*"], ...extra });
    expect(res.status).toBe(400);
  });

  it("PATCH changes only the fields named, is audited, and refuses unknown fields and empty bodies", async () => {
    const created = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/y", eventTypes: ["*"], description: "d" });
    expect(created.body).toMatchObject({ ordering: "none", maxInFlight: 256, rateLimitPerSecond: null });
    const id = created.body.id;
    const changed = await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ maxInFlight: 3, rateLimitPerSecond: 2.5, ordering: "subject" });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ maxInFlight: 3, rateLimitPerSecond: 2.5, ordering: "subject", description: "d", eventTypes: ["*"] });
    const got = await request(ctx.app).get(`/subscriptions/${id}`).set(auth);
    expect(got.body).toMatchObject({ maxInFlight: 3, ordering: "subject", lane: { inFlight: 0, held: 0, heldSubjects: 0, heldSince: null } });
    expect((await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ rateLimitPerSecond: null })).body.rateLimitPerSecond).toBeNull();
    expect((await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ url: "http://elsewhere" })).status).toBe(400);
    expect((await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({})).status).toBe(400);
    expect((await request(ctx.app).patch(`/subscriptions/${randomUUID()}`).set(auth).send({ maxInFlight: 1 })).status).toBe(404);
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.update", target: id } })).toBe(2);
  });
});
