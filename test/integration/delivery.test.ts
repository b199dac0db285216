import { randomUUID } from "node:crypto";
import request from "supertest";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { writeEvents } from "../../src/db/outbox.js";
import { withTransaction } from "../../src/db/sql.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { rentalConfirmed, reservationCreated } from "../helpers/events.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
const subscribers: Subscriber[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ DELIVERY_RETRY_SCHEDULE: "0,300ms,300ms,300ms,300ms", DELIVERY_DISABLE_AFTER_FAILURES: "0" });
  await ctx.startWorker();
});
afterAll(async () => {
  await ctx.close();
  for (const s of subscribers) await s.close();
});

async function newSubscriber() {
  const sub = await startSubscriber();
  subscribers.push(sub);
  return sub;
}

async function deliverProcessed(body: unknown) {
  const res = await postFlovi(ctx.app, body);
  await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed", 10_000, "processed");
}

let reservationCounter = 0;
const nextReservation = () => `d-${++reservationCounter}-${randomUUID().slice(0, 6)}`;

describe("subscriptions API", () => {
  it("creates with a whsec_ secret shown once, lists, reads and deletes", async () => {
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/x", eventTypes: ["reservation.*"], description: "ops" });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(res.body.secret.slice(6), "base64").length).toBeGreaterThanOrEqual(24);
    const list = await request(ctx.app).get("/subscriptions").set(auth);
    expect(list.body.data.find((s: { id: string }) => s.id === res.body.id)).toMatchObject({
      url: "http://127.0.0.1:9/x",
      eventTypes: ["reservation.*"],
      status: "active",
    });
    expect(JSON.stringify(list.body)).not.toContain(res.body.secret);
    const one = await request(ctx.app).get(`/subscriptions/${res.body.id}`).set(auth);
    expect(one.body).toMatchObject({ id: res.body.id, description: "ops" });
    expect(one.body.secret).toBeUndefined();
    expect((await request(ctx.app).delete(`/subscriptions/${res.body.id}`).set(auth)).status).toBe(204);
    expect((await request(ctx.app).get(`/subscriptions/${res.body.id}`).set(auth)).status).toBe(404);
  });

  it.each([
    [{ url: "ftp://example.com/x", eventTypes: ["*"] }, "target_not_allowed"],
    [{ url: "not a url", eventTypes: ["*"] }, "target_not_allowed"],
    [{ url: "http://127.0.0.1/x", eventTypes: [] }, "invalid_request"],
    [{ url: "http://127.0.0.1/x", eventTypes: ["reservation"] }, "invalid_request"],
    [{ eventTypes: ["*"] }, "invalid_request"],
  ])("refuses %j with 400", async (body, error) => {
    const res = await request(ctx.app).post("/subscriptions").set(auth).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });

  it("answers 401 without the token", async () => {
    expect((await request(ctx.app).get("/subscriptions")).status).toBe(401);
    expect(
      (
        await request(ctx.app)
          .post("/subscriptions")
          .send({ url: "http://x", eventTypes: ["*"] })
      ).status,
    ).toBe(401);
  });
});

describe("in production, private targets are refused unless allow-listed", () => {
  it("refuses loopback, allows it when SUBSCRIPTION_ALLOWED_HOSTS names it", async () => {
    const prod = await createTestContext({ NODE_ENV: "production" });
    const allowed = await createTestContext({ NODE_ENV: "production", SUBSCRIPTION_ALLOWED_HOSTS: "127.0.0.0/8,internal.example" });
    try {
      for (const url of [
        "http://127.0.0.1:8080/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://[::127.0.0.1]/x",
        "http://localhost/x",
      ]) {
        const res = await request(prod.app)
          .post("/subscriptions")
          .set(auth)
          .send({ url, eventTypes: ["*"] });
        expect(res.status, url).toBe(400);
        expect(res.body.error).toBe("target_not_allowed");
      }
      expect(
        (
          await request(allowed.app)
            .post("/subscriptions")
            .set(auth)
            .send({ url: "http://127.0.0.1:8080/x", eventTypes: ["*"] })
        ).status,
      ).toBe(201);
      expect(
        (
          await request(allowed.app)
            .post("/subscriptions")
            .set(auth)
            .send({ url: "http://10.1.2.3/x", eventTypes: ["*"] })
        ).status,
      ).toBe(400);
    } finally {
      await prod.close();
      await allowed.close();
    }
  });
});

describe("webhook delivery", () => {
  afterEach(async () => {
    // Keep later tests' subscriptions to themselves.
    await ctx.prisma.subscription.updateMany({ where: { deletedAt: null }, data: { deletedAt: new Date(), status: "disabled" } });
  });

  it("delivers every reservation event type, signed, with webhook-id = event id, matching wildcards", async () => {
    const all = await newSubscriber();
    const reservations = await newSubscriber();
    const cancelledOnly = await newSubscriber();
    await subscribe(ctx.app, all, ["*"]);
    await subscribe(ctx.app, reservations, ["reservation.*"]);
    await subscribe(ctx.app, cancelledOnly, ["reservation.cancelled"]);

    const id = nextReservation();
    // One at a time, as Flovi sends them: states processed out of order would (rightly) be stale.
    for (const state of ["created", "taken", "driving", "sealed", "final_costs"]) await deliverProcessed(statusChange(state, id));
    const other = nextReservation();
    await deliverProcessed(statusChange("created", other));
    await deliverProcessed(statusChange("cancelled", other, { cancellation_reason: "SCHEDULE_ISSUE" }));

    await eventually(
      async () => all.received.length >= 7 && reservations.received.length >= 7 && cancelledOnly.received.length >= 1,
      15_000,
      "deliveries",
    ).catch((error: Error) => {
      throw new Error(`${error.message}: all=${all.received.length} reservations=${reservations.received.length} cancelled=${cancelledOnly.received.length}`);
    });
    await ctx.settled(); // nothing left that could send a duplicate
    expect([all.received.length, reservations.received.length, cancelledOnly.received.length]).toEqual([7, 7, 1]);
    const types = all.received
      .filter((r) => r.event.subject === `reservation/${id}`)
      .map((r) => r.event.type)
      .sort();
    expect(types).toEqual(["reservation.created", "reservation.driving", "reservation.final_costs", "reservation.sealed", "reservation.taken"]);
    for (const r of all.received) expect(r.webhookId).toBe(r.event.id);
    expect(cancelledOnly.received[0]!.event).toMatchObject({ type: "reservation.cancelled", data: { details: { cancellationReason: "SCHEDULE_ISSUE" } } });
    const request0 = all.server.requests.find((r) => r.path.startsWith("/hooks/"))!;
    expect(request0.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    // Per-subject sequence lets a consumer restore order whatever the arrival order.
    const sequences = all.received
      .filter((r) => r.event.subject === `reservation/${id}`)
      .map((r) => r.event.data.sequence)
      .sort();
    expect(sequences).toEqual([1, 2, 3, 4, 5]);
  });

  it("retries a subscriber failing three times, then succeeds with the same webhook-id; every attempt recorded", async () => {
    const sub = await newSubscriber();
    sub.respond = (_req, attempt) => (attempt <= 3 ? { status: 500, body: { oops: attempt } } : { status: 200 });
    const { id: subscriptionId } = await subscribe(ctx.app, sub, ["reservation.created"]);
    await postFlovi(ctx.app, statusChange("created", nextReservation()));
    await eventually(async () => sub.received.length === 1, 15_000, "eventual success");
    const ids = new Set(sub.attempts.map((a) => a.webhookId));
    expect(ids.size).toBe(1);
    expect(sub.attempts.map((a) => a.status)).toEqual([500, 500, 500, 200]);
    // The subscriber answers before the service records the attempt: wait for the record.
    const d = await eventually(
      async () => {
        const deliveries = await request(ctx.app).get(`/subscriptions/${subscriptionId}/deliveries`).set(auth);
        return deliveries.body.data[0]?.status === "succeeded" ? deliveries.body.data[0] : undefined;
      },
      5_000,
      "delivery recorded",
    );
    expect(d).toMatchObject({ status: "succeeded", attempts: 4, lastStatusCode: 200 });
    expect(d.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 500, 200]);
    expect(d.attemptLog[0].responseExcerpt).toContain('"oops":1');
    expect(d.attemptLog[0].durationMs).toBeTypeOf("number");
  });

  it("410 Gone disables the subscription and records an operator event", async () => {
    const sub = await newSubscriber();
    sub.respond = () => ({ status: 410 });
    const { id } = await subscribe(ctx.app, sub, ["reservation.created"]);
    await postFlovi(ctx.app, statusChange("created", nextReservation()));
    const disabled = await eventually(
      async () => {
        const s = await ctx.prisma.subscription.findUnique({ where: { id } });
        return s?.status === "disabled" ? s : undefined;
      },
      15_000,
      "disabled",
    );
    expect(disabled.disabledReason).toContain("410");
    expect(sub.attempts).toHaveLength(1);
    const operatorEvent = await ctx.prisma.event.findFirst({ where: { type: "subscription.disabled", entityId: id } });
    expect(operatorEvent?.envelope).toMatchObject({
      source: "logistics-event-hub",
      data: { status: "disabled", details: { reason: expect.stringContaining("410") } },
    });
  });

  it("disables an endpoint automatically after the configured number of failures", async () => {
    const strict = await createTestContext({ DELIVERY_RETRY_SCHEDULE: "0,200ms,200ms,200ms,200ms,200ms", DELIVERY_DISABLE_AFTER_FAILURES: "3" });
    try {
      await strict.startWorker();
      const sub = await newSubscriber();
      sub.respond = () => ({ status: 503 });
      const { id } = await subscribe(strict.app, sub, ["*"]);
      await postFlovi(strict.app, statusChange("created", nextReservation()));
      await eventually(async () => (await strict.prisma.subscription.findUnique({ where: { id } }))?.status === "disabled", 15_000, "auto-disabled");
      const s = await strict.prisma.subscription.findUniqueOrThrow({ where: { id } });
      expect(s.disabledReason).toBe("3 consecutive failed attempts");
      expect(await strict.prisma.event.count({ where: { type: "subscription.disabled", entityId: id } })).toBe(1);
      // Re-enabling resets the failure run.
      const enabled = await request(strict.app).post(`/subscriptions/${id}/enable`).set(auth);
      expect(enabled.body).toMatchObject({ status: "active", consecutiveFailures: 0 });
    } finally {
      await strict.close();
    }
  });

  it("after a secret rotation both signatures are sent and each verifies", async () => {
    const sub = await newSubscriber();
    const { id, secret: oldSecret } = await subscribe(ctx.app, sub, ["reservation.created"]);
    const rotated = await request(ctx.app).post(`/subscriptions/${id}/rotate-secret`).set(auth);
    expect(rotated.status).toBe(200);
    const newSecret: string = rotated.body.secret;
    expect(newSecret).not.toBe(oldSecret);
    await postFlovi(ctx.app, statusChange("created", nextReservation()));
    await eventually(async () => sub.received.length === 1, 15_000, "delivered");
    const req = sub.server.requests.at(-1)!;
    expect(String(req.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(() =>
        new Webhook(secret).verify(req.body, {
          "webhook-id": String(req.headers["webhook-id"]),
          "webhook-timestamp": String(req.headers["webhook-timestamp"]),
          "webhook-signature": String(req.headers["webhook-signature"]),
        }),
      ).not.toThrow();
    }
  });

  it("two workers on one queue deliver each event exactly once", async () => {
    const sub = await newSubscriber();
    await subscribe(ctx.app, sub, ["*"]);
    const second = await ctx.startWorker();
    const ids = Array.from({ length: 30 }, () => nextReservation());
    await Promise.all(ids.map((id) => postFlovi(ctx.app, statusChange("created", id))));
    await eventually(async () => sub.received.length >= 30, 20_000, "30 deliveries");
    await ctx.settled(); // nothing left that could send a duplicate
    expect(sub.received).toHaveLength(30);
    expect(new Set(sub.received.map((r) => r.webhookId)).size).toBe(30);
    await second.close();
  });

  it("an event committed by a process that died before dispatch is still delivered (scheduled relay)", async () => {
    const sub = await newSubscriber();
    await subscribe(ctx.app, sub, ["reservation.*"]);
    const entityId = nextReservation();
    // Committed exactly as a worker would, but nobody nudges the relay afterwards.
    await withTransaction(ctx.db, (sql) => writeEvents(sql, [reservationCreated(entityId, `crash:${entityId}`)]));
    await eventually(async () => sub.received.some((r) => r.event.subject === `reservation/${entityId}`), 15_000, "relayed by the sweep");
  });
});

describe("GET /events", () => {
  it("returns the log oldest first with a stable cursor and filters", async () => {
    const id = nextReservation();
    for (const state of ["created", "taken", "driving"]) await deliverProcessed(statusChange(state, id));
    await eventually(
      async () => (await ctx.prisma.event.count({ where: { subject: `reservation/${id}`, position: { not: null } } })) === 3,
      10_000,
      "3 relayed",
    );

    const first = await request(ctx.app).get(`/events?subject=reservation/${id}&limit=2`).set(auth);
    expect(first.status).toBe(200);
    expect(first.body.data.map((e: { type: string }) => e.type)).toEqual(["reservation.created", "reservation.taken"]);
    expect(first.body.hasMore).toBe(true);
    const second = await request(ctx.app).get(`/events?subject=reservation/${id}&limit=2&after=${first.body.cursor}`).set(auth);
    expect(second.body.data.map((e: { type: string }) => e.type)).toEqual(["reservation.driving"]);
    expect(second.body.hasMore).toBe(false);
    const empty = await request(ctx.app).get(`/events?subject=reservation/${id}&after=${second.body.cursor}`).set(auth);
    expect(empty.body).toEqual({ data: [], cursor: second.body.cursor, hasMore: false });

    const byType = await request(ctx.app).get("/events?type=reservation.taken&limit=1000").set(auth);
    expect(byType.body.data.every((e: { type: string }) => e.type === "reservation.taken")).toBe(true);
    const wildcard = await request(ctx.app).get("/events?type=reservation.*&limit=1000").set(auth);
    expect(wildcard.body.data.length).toBeGreaterThanOrEqual(3);
    expect((await request(ctx.app).get("/events?after=abc").set(auth)).status).toBe(400);
  });

  it("positions grow in commit order across all events", async () => {
    // Its own events, written concurrently (webhooks and an outbox writer), so the check never runs on nothing.
    const ids = Array.from({ length: 12 }, () => nextReservation());
    await Promise.all([
      ...ids.map((id) => postFlovi(ctx.app, statusChange("created", id))),
      ...ids.map((entityId) => withTransaction(ctx.db, (sql) => writeEvents(sql, [rentalConfirmed(entityId, 1, `order:${entityId}`)]))),
    ]);
    await ctx.settled();
    const rows = await ctx.prisma.event.findMany({
      where: { position: { not: null } },
      orderBy: { position: "asc" },
      select: { position: true, relayedAt: true },
    });
    const positions = rows.map((r) => Number(r.position));
    expect(positions.length).toBeGreaterThanOrEqual(24);
    expect(positions).toEqual(positions.map((_, i) => i + 1));
  });
});
