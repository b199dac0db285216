// The first day with the hub, as a partner's developer tries it on a fresh clone: a test event to one endpoint, easy
// mistakes caught with a message that says what to do, GET / and an unconfigured admin surface, the console's
// first page, and two registrations racing. Each was a dead end before.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { eventSchemaProblem } from "../../src/domain/event-catalog.js";
import { capturedLog } from "../helpers/captured-log.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi } from "../helpers/flovi.js";
import { startSubscriber, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
let sub: Subscriber;
let other: Subscriber;
beforeAll(async () => {
  ctx = await createTestContext({ SUBSCRIPTION_ALLOWED_HOSTS: "127.0.0.1" });
  [sub, other] = await Promise.all([startSubscriber(), startSubscriber()]);
});
afterAll(async () => {
  await Promise.all([sub.close(), other.close()]);
  await ctx.close();
});

const subscribe = async (s: Subscriber, eventTypes: string[], extra: Record<string, unknown> = {}) => {
  const res = await request(ctx.app)
    .post("/subscriptions")
    .set(auth)
    .send({ url: s.url, eventTypes, ...extra });
  if (res.status === 201) s.secrets.push(res.body.secret);
  return res;
};

function capturingApp(config = ctx.config) {
  const { log, lines } = capturedLog();
  const app = buildApp({
    config,
    db: ctx.db,
    redis: ctx.redis,
    queues: ctx.queues,
    log,
    metrics: ctx.metrics,
  });
  return { app, lines };
}

describe("a test event to one endpoint", () => {
  it("POST /subscriptions/:id/test sends a signed hub.test to that endpoint alone and answers the outcome", async () => {
    const created = await subscribe(sub, ["reservation.*"]);
    await subscribe(other, ["*"]);
    const tested = await request(ctx.app).post(`/subscriptions/${created.body.id}/test`).set(auth);
    expect(tested.status).toBe(200);
    expect(tested.body).toMatchObject({ delivered: true, statusCode: 204, error: null });
    expect(tested.body.durationMs).toBeGreaterThanOrEqual(0);
    // Verified with the subscription's secret by a Standard Webhooks library, and valid per the catalog.
    const got = sub.received.find((r) => r.event.type === "hub.test")!;
    expect(got.webhookId).toBe(tested.body.eventId);
    expect(got.event).toMatchObject({ source: "logistics-event-hub", subject: `hub/${created.body.id}`, data: { entityId: created.body.id, status: "test" } });
    expect(eventSchemaProblem(got.event)).toBeNull();
    // Nowhere else: not in the log, not to the other subscription (which takes every type).
    expect(other.received).toEqual([]);
    expect(await ctx.prisma.event.count({ where: { type: "hub.test" } })).toBe(0);
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.test", target: created.body.id } })).toBe(1);
  });

  it("a failing endpoint: the answer says so, and the endpoint's failure run does not move", async () => {
    const broken = await startSubscriber();
    try {
      broken.respond = () => ({ status: 500, body: { oops: "receiver bug" } });
      const created = await subscribe(broken, ["rental.*"]);
      const tested = await request(ctx.app).post(`/subscriptions/${created.body.id}/test`).set(auth);
      expect(tested.body).toMatchObject({ delivered: false, statusCode: 500 });
      expect(tested.body.excerpt).toContain("receiver bug");
      const row = await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: created.body.id } });
      expect(row.consecutiveFailures).toBe(0);
      expect((await request(ctx.app).post("/subscriptions/00000000-0000-4000-8000-000000000000/test").set(auth)).status).toBe(404);
    } finally {
      await broken.close();
    }
  });
});

describe("easy mistakes are caught", () => {
  it("the same URL for overlapping event types is a 409 naming the existing subscription, unless a duplicate is asked for", async () => {
    const receiver = await startSubscriber();
    try {
      const first = await subscribe(receiver, ["reservation.*"]);
      const again = await subscribe(receiver, ["reservation.sealed", "shipment.*"]);
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ error: "duplicate_subscription", existing: { id: first.body.id } });
      expect(again.body.message).toContain(first.body.id);
      // Types that cannot overlap are another subscription; so is an explicit duplicate.
      expect((await subscribe(receiver, ["rental.*"])).status).toBe(201);
      expect((await subscribe(receiver, ["reservation.*"], { allowDuplicate: true })).status).toBe(201);
    } finally {
      await receiver.close();
    }
  });

  it("GET /events with an unknown type is a 400 that lists the valid ones", async () => {
    const typo = await request(ctx.app).get("/events?type=reservation.create").set(auth);
    expect(typo.status).toBe(400);
    expect(JSON.stringify(typo.body)).toContain("reservation.created");
    expect((await request(ctx.app).get("/events?type=reservation.*").set(auth)).status).toBe(200);
    expect((await request(ctx.app).get("/events?type=rental.on_request").set(auth)).status).toBe(200);
  });

  it("an ignored Flovi event is logged at info with its reason", async () => {
    const { app, lines } = capturingApp();
    const res = await postFlovi(app, Buffer.from(JSON.stringify({ event: "reservation_status_chnage", reservationId: "fd-1", state: "created" })));
    expect(res.status).toBe(202);
    expect(res.body.ignored).toBe(true);
    await eventually(async () => lines.some((l) => l.msg?.toString().startsWith("flovi delivery ignored")), 5_000, "the log line");
    expect(lines.find((l) => l.msg === "flovi delivery ignored: not a reservation_status_change (stored; see GET /admin/webhooks)")).toMatchObject({
      level: 30,
      reason: "unsupported_event",
    });
  });
});

describe("small dead ends", () => {
  it("GET / sends a browser to the console and answers JSON links otherwise", async () => {
    const browser = await request(ctx.app).get("/").set("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    expect(browser.status).toBe(302);
    expect(browser.headers.location).toBe("/admin/console");
    const api = await request(ctx.app).get("/").set("accept", "application/json");
    expect(api.status).toBe(200);
    expect(api.body.links).toMatchObject({ console: "/admin/console", eventCatalog: "/schemas/events.json", openapi: "/openapi.json" });
  });

  it("an unconfigured admin surface answers 503 without a stack trace in the log", async () => {
    const { app, lines } = capturingApp({ ...ctx.config, ADMIN_TOKEN: undefined });
    expect((await request(app).get("/subscriptions").set(auth)).status).toBe(503);
    await eventually(async () => lines.some((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 503), 5_000, "the log line");
    const line = lines.find((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 503)!;
    expect(line.level).toBe(40);
    expect(JSON.stringify(line)).not.toContain("stack");
  });
});

describe("the console for a first day", () => {
  const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
  it("the landing page lists a failing endpoint and the last inbound webhooks; the inbound page has an ignored tab with the body", async () => {
    const failing = await startSubscriber();
    try {
      failing.respond = () => ({ status: 500 });
      const created = await subscribe(failing, ["reservation.*"]);
      await ctx.prisma.subscription.update({ where: { id: created.body.id }, data: { consecutiveFailures: 3, failingSince: new Date() } });
      const ignored = await postFlovi(ctx.app, Buffer.from(JSON.stringify({ event: "reservation_deleted", reservationId: "fd-ign", state: "created" })));
      const landing = await request(ctx.app).get("/admin/console").set("authorization", basic);
      expect(landing.text).toContain(`data-attention="${created.body.id}"`);
      expect(landing.text).toContain(`data-inbound="${ignored.body.id}"`);
      const tab = await request(ctx.app).get("/admin/console/inbound?status=ignored").set("authorization", basic);
      expect(tab.text).toContain(`data-inbound="${ignored.body.id}"`);
      expect(tab.text).toContain(`/admin/console/inbound/${ignored.body.id}/body`);
      expect((await request(ctx.app).get(`/admin/console/inbound/${ignored.body.id}/body`).set("authorization", basic)).text).toContain("reservation_deleted");
    } finally {
      await failing.close();
    }
  });

  it("a delivery waiting for its next attempt can be sent now (console button, API); recover says what it did", async () => {
    const own = await createTestContext({ SUBSCRIPTION_ALLOWED_HOSTS: "127.0.0.1", DELIVERY_RETRY_SCHEDULE: "0,1h" });
    const receiver = await startSubscriber();
    try {
      await own.startWorker();
      let down = true;
      receiver.respond = () => ({ status: down ? 503 : 204 });
      const created = await request(own.app)
        .post("/subscriptions")
        .set(auth)
        .send({ url: receiver.url, eventTypes: ["reservation.*"] });
      receiver.secrets.push(created.body.secret);
      await postFlovi(own.app, Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: "fd-wait", state: "created" })));
      const waiting = await eventually(
        async () => own.prisma.webhookDelivery.findFirst({ where: { subscriptionId: created.body.id, status: "pending", attempts: 1 } }),
        10_000,
        "first attempt failed",
      );
      // The receiver is fixed; nobody wants to wait an hour.
      down = false;
      const page = await request(own.app).get(`/admin/console/subscriptions/${created.body.id}?status=pending`).set("authorization", basic);
      expect(page.text).toMatch(new RegExp(`data-delivery="${waiting.id}"[\\s\\S]*?Send now`));
      const recovered = await request(own.app)
        .post(`/admin/subscriptions/${created.body.id}/recover`)
        .set(auth)
        .send({ since: new Date(Date.now() - 60_000).toISOString() });
      expect(recovered.body).toMatchObject({ requeued: 0, sentNow: 0 });
      expect(recovered.body.notes.join(" ")).toContain("includePending");
      const now = await request(own.app)
        .post(`/admin/subscriptions/${created.body.id}/recover`)
        .set(auth)
        .send({ since: new Date(Date.now() - 60_000).toISOString(), includePending: true });
      expect(now.body).toMatchObject({ sentNow: 1 });
      await eventually(async () => receiver.received.some((r) => r.event.subject === "reservation/fd-wait"), 10_000, "sent now, received");
    } finally {
      await receiver.close();
      await own.close();
    }
  });
});

describe("registration races", () => {
  it("two registrations of one MFB order at once: one creates it, the other finds it (no 500)", async () => {
    const orderId = "0f0e0d0c-0b0a-4908-8706-050403020100";
    const answers = await Promise.all([1, 2, 3].map(() => request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
    expect(await ctx.prisma.mfbOrder.count({ where: { id: orderId } })).toBe(1);
  });
});
