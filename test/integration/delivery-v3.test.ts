// Delivery v3 (docs/delivery.md): fairness by destination, the log in `sequence` order, operators' re-sends
// that say what they do, bounded rate limits and the subscriptions overview. Real Postgres, Redis, worker
// pumps and HTTP subscribers on loopback; assertions on counts and order, never on time.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { startFakeServer } from "../../scripts/lib/fakes/http-server.js";
import { mfbEvent } from "../../scripts/lib/fakes/providers.js";
import { relayBatch, writeEvents } from "../../src/db/outbox.js";
import { OVERVIEW_SQL } from "../../src/db/subscriptions.js";
import { withTransaction } from "../../src/db/sql.js";
import { closedAfterAll, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { rentalConfirmed } from "../helpers/events.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startProviderContext } from "../helpers/providers.js";
import { startSubscriber, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const { context, later } = closedAfterAll({ DELIVERY_DISABLE_AFTER_FAILURES: "0" });

const newSubscriber = async () => later(await startSubscriber());

async function subscribe(ctx: TestContext, url: string, body: Record<string, unknown> = {}, sub?: Subscriber) {
  const res = await request(ctx.app)
    .post("/subscriptions")
    .set(auth)
    .send({ url, eventTypes: ["reservation.*"], ...body });
  if (res.status !== 201) throw new Error(`subscribe failed: ${res.status} ${JSON.stringify(res.body)}`);
  sub?.secrets.push(res.body.secret);
  return res.body as { id: string };
}

describe("fair by destination", () => {
  it("200 subscriptions at one host answering in 2 s hold that host's budget; a healthy subscriber gets every event meanwhile", async () => {
    // 100 requests open per process at most, 20 per destination: by lanes, the 200 slow ones would own the worker.
    const ctx = await context({ DELIVERY_CONCURRENCY: "100", DELIVERY_DESTINATION_MAX_IN_FLIGHT: "20", DELIVERY_TIMEOUT_MS: "10000" });
    await ctx.startWorker();
    let open = 0;
    let mostOpen = 0;
    let answered = 0;
    const slow = await startFakeServer(async () => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      // wall clock: an endpoint that takes 2 s to answer (the slow host of the case).
      await new Promise((r) => setTimeout(r, 2_000));
      open -= 1;
      answered += 1;
      return { status: 204 };
    });
    later(slow);
    const slowIds: string[] = [];
    for (let i = 0; i < 200; i++) slowIds.push((await subscribe(ctx, `${slow.url}/team-${i}`)).id);
    const healthy = await newSubscriber();
    await subscribe(ctx, healthy.url, {}, healthy);

    const ids = Array.from({ length: 5 }, (_, i) => `fair-${i}-${randomUUID().slice(0, 6)}`);
    for (const id of ids) expect((await postFlovi(ctx.app, statusChange("created", id))).status).toBe(202);
    await eventually(async () => healthy.received.length >= 5, 20_000, "every event at the healthy subscriber");
    // It got all five before the slow host had served even one event to each of its 200 subscriptions (1,000
    // deliveries wait there, 20 at a time, 2 s each): it never waited for the slow host's turn.
    expect(answered).toBeLessThan(200);
    expect(mostOpen).toBeLessThanOrEqual(20);
    // The slow host holds its budget to the full: waiting on it costs sockets, not the healthy lane's turn.
    await eventually(async () => open === 20, 10_000, "the slow host's budget in use");
    for (const id of slowIds) await request(ctx.app).delete(`/subscriptions/${id}`).set(auth);
  }, 60_000);
});

describe("the log holds each entity's events in sequence order", () => {
  it("a first poll that reads five carrier events: GET /events and an ordered subscription see them in sequence order", async () => {
    const world = await startProviderContext({ MFB_POLL_INTERVAL_MS: "3600000", POLL_SWEEP_INTERVAL_MS: "150" });
    later(world);
    const sub = await newSubscriber();
    const res = await request(world.ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: sub.url, eventTypes: ["shipment.*"], ordering: "subject" });
    sub.secrets.push(res.body.secret);
    const orderId = randomUUID();
    const t = (m: number) => new Date(Date.UTC(2026, 11, 1, 8, m)).toISOString();
    const codes = ["shipment_created", "picked_up", "in_transit", "arrived_at_facility", "delivery_in_progress"];
    world.mfb.orders.set(orderId, [{ parcel_index: 0, events: codes.map((code, i) => mfbEvent(code, t(i * 10))) }]);
    expect((await request(world.ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId })).status).toBe(201);
    const subject = `shipment/${orderId}`;
    const total = await eventually(
      async () => {
        const n = await world.ctx.prisma.event.count({ where: { subject } });
        const placed = await world.ctx.prisma.event.count({ where: { subject, position: { not: null } } });
        return n >= 6 && n === placed ? n : undefined;
      },
      15_000,
      "the poll's events in the log",
    );
    const log = await request(world.ctx.app).get(`/events?subject=${subject}&limit=100`).set(auth);
    const sequences = log.body.data.map((e: { data: { sequence: number } }) => e.data.sequence);
    expect(sequences).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await eventually(async () => sub.received.filter((r) => r.event.subject === subject).length >= total, 15_000, "every event delivered");
    expect(sub.received.filter((r) => r.event.subject === subject).map((r) => r.event.data.sequence)).toEqual(sequences);
  });

  it("two relays racing over one entity's events written by several transactions position them in sequence order", async () => {
    const ctx = await context();
    const rental = (entityId: string, sequence: number) => rentalConfirmed(entityId, sequence, `race:${entityId}:${sequence}`);
    for (let round = 0; round < 8; round++) {
      const entityId = `race-${round}-${randomUUID().slice(0, 6)}`;
      // Three transactions of two events each, ids random: nothing but the relay orders them.
      for (const first of [1, 3, 5]) await withTransaction(ctx.db, (sql) => writeEvents(sql, [rental(entityId, first + 1), rental(entityId, first)]));
      await Promise.all([relayBatch(ctx.db, 2), relayBatch(ctx.db, 2), relayBatch(ctx.db, 3), relayBatch(ctx.db, 500)]);
      await eventually(async () => (await ctx.prisma.event.count({ where: { entityId, position: null } })) === 0, 5_000, "all relayed");
      const rows = await ctx.prisma.event.findMany({ where: { entityId }, orderBy: { position: "asc" }, select: { sequence: true } });
      expect(rows.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });
});

describe("operators' re-sends say what they do", () => {
  it("a delivery that succeeded answers 409 already_delivered, unless forced; a forced one is sent again with the same webhook-id", async () => {
    const ctx = await context();
    await ctx.startWorker();
    const sub = await newSubscriber();
    const { id } = await subscribe(ctx, sub.url, {}, sub);
    const reservation = `resend-${randomUUID().slice(0, 6)}`;
    await postFlovi(ctx.app, statusChange("created", reservation));
    const delivery = await eventually(
      async () => ctx.prisma.webhookDelivery.findFirst({ where: { subscriptionId: id, status: "succeeded" } }),
      10_000,
      "delivered",
    );
    const refused = await request(ctx.app).post(`/admin/deliveries/${delivery.id}/retry`).set(auth);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("already_delivered");
    expect(new Date(refused.body.deliveredAt).getTime()).toBe(delivery.completedAt!.getTime());
    expect((await request(ctx.app).post(`/admin/deliveries/${delivery.id}/retry`).set(auth).send({ force: "yes" })).status).toBe(400);
    expect(sub.received).toHaveLength(1);
    const forced = await request(ctx.app).post(`/admin/deliveries/${delivery.id}/retry`).set(auth).send({ force: true });
    expect(forced.status).toBe(202);
    expect(forced.body).toMatchObject({ kind: "queued", sendNow: false, outcome: "sent_now" });
    await eventually(async () => sub.received.length === 2, 10_000, "sent again");
    expect(sub.received[1]!.webhookId).toBe(sub.received[0]!.webhookId);
    expect(await ctx.prisma.auditLog.count({ where: { action: "delivery.retry", target: delivery.id } })).toBe(1);
  });

  it("send-now in ordered mode says the delivery waits behind its subject's earlier one", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,1h" });
    await ctx.startWorker();
    const sub = await newSubscriber();
    sub.respond = () => ({ status: 503 });
    const { id } = await subscribe(ctx, sub.url, {}, sub);
    const reservation = `behind-${randomUUID().slice(0, 6)}`;
    for (const state of ["created", "taken"]) await postFlovi(ctx.app, statusChange(state, reservation));
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: id, status: "pending", attempts: 1 } })) === 2,
      10_000,
      "two retries an hour away",
    );
    // Ordered mode turned on: both wait as one subject's line, the first event first.
    expect((await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ ordering: "subject" })).status).toBe(200);
    const [first, second] = await ctx.prisma.webhookDelivery.findMany({ where: { subscriptionId: id }, orderBy: { position: "asc" } });
    const answer = await request(ctx.app).post(`/admin/deliveries/${second!.id}/retry`).set(auth);
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ sendNow: true, outcome: "behind", behind: first!.id });
  });

  it("a parked failed job leaves once its delivery is re-sent and succeeds", async () => {
    const ctx = await context({ DELIVERY_RETRY_SCHEDULE: "0,100ms" });
    await ctx.startWorker();
    const sub = await newSubscriber();
    let failing = true;
    sub.respond = () => (failing ? { status: 500 } : { status: 204 });
    const { id } = await subscribe(ctx, sub.url, {}, sub);
    await postFlovi(ctx.app, statusChange("created", `parked-${randomUUID().slice(0, 6)}`));
    const failed = await eventually(async () => ctx.prisma.webhookDelivery.findFirst({ where: { subscriptionId: id, status: "failed" } }), 10_000, "failed");
    const queue = ctx.queues.get("webhook-deliveries");
    await eventually(async () => (await queue.getFailed()).some((j) => j.data.webhookDeliveryId === failed.id), 10_000, "parked");
    failing = false;
    expect((await request(ctx.app).post(`/admin/deliveries/${failed.id}/retry`).set(auth)).status).toBe(202);
    await eventually(async () => sub.received.length === 1, 10_000, "delivered on the re-send");
    await eventually(async () => !(await queue.getFailed()).some((j) => j.data.webhookDeliveryId === failed.id), 10_000, "the parked job gone");
  });
});

describe("bounds", () => {
  it.each([[1e-9], [0.0009], [10_001]])("rateLimitPerSecond %s is a 400 naming the bounds; nothing is created", async (rate) => {
    const ctx = await context();
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/bounds", eventTypes: ["reservation.*"], rateLimitPerSecond: rate });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("0.001");
    expect(JSON.stringify(res.body)).toContain("10000");
    expect(await ctx.prisma.subscription.count({ where: { url: "http://127.0.0.1:9/bounds" } })).toBe(0);
  });

  it("the lowest rate (0.001/s) is accepted", async () => {
    const ctx = await context();
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/lowest", eventTypes: ["reservation.*"], rateLimitPerSecond: 0.001 });
    expect(res.status).toBe(201);
  });
});

describe("the subscriptions overview", () => {
  it("reads its page first, then that page's statistics: no lookup runs for a subscription off the page", async () => {
    const ctx = await context();
    for (let i = 0; i < 60; i++) await subscribe(ctx, `http://127.0.0.1:9/overview-${i}`);
    const { rows } = await ctx.pool.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${OVERVIEW_SQL}`, [null, null, 10]);
    const loops: number[] = [];
    const walk = (node: { "Relation Name"?: string; "Actual Loops"?: number; Plans?: unknown[] }) => {
      if (node["Relation Name"] === "webhook_deliveries") loops.push(node["Actual Loops"] ?? 0);
      for (const child of node.Plans ?? []) walk(child as typeof node);
    };
    walk((rows[0]!["QUERY PLAN"] as { Plan: Parameters<typeof walk>[0] }[])[0]!.Plan);
    expect(loops.length).toBeGreaterThan(0);
    // At most once per page row and status (4 statuses counted, succeeded twice): never once per subscription.
    expect(Math.max(...loops)).toBeLessThanOrEqual(40);
    const page = await request(ctx.app).get("/admin/console/subscriptions").set(auth);
    expect(page.status).toBe(200);
  });
});
