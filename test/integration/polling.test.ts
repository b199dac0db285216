import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimDue } from "../../src/db/tracked-items.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { startProviderContext, type ProviderContext } from "../helpers/providers.js";
import { startSubscriber, subscribe } from "../helpers/subscriber.js";
import { GREENFLOW_KEY, mfbEvent, startFakeGreenflow, startFakeMfb, type FakeGreenflow, type FakeMfb } from "../../scripts/lib/fakes/providers.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let fakes: ProviderContext;
let mfb: FakeMfb;
let greenflow: FakeGreenflow;
let ctx: TestContext;
const providerEnv = () => fakes.env();

beforeAll(async () => {
  fakes = await startProviderContext({
    MFB_POLL_INTERVAL_MS: "300",
    GREENFLOW_POLL_INTERVAL_MS: "300",
    POLL_SWEEP_INTERVAL_MS: "150",
    PROVIDER_TIMEOUT_MS: "500",
  });
  ({ mfb, greenflow, ctx } = fakes);
});
afterAll(() => fakes.close());

const t = (minute: number) => new Date(Date.UTC(2026, 5, 1, 8, minute)).toISOString();
const track = (app = ctx.app, orderId: string, reference?: string) => request(app).post("/tracking/mfb-orders").set(auth).send({ orderId, reference });
const orderView = async (id: string, app = ctx.app) => (await request(app).get(`/tracking/mfb-orders/${id}`).set(auth)).body;
const eventTypes = async (entityId: string) => (await ctx.prisma.event.findMany({ where: { entityId }, orderBy: { sequence: "asc" } })).map((e) => e.type);

describe("tracking registration API", () => {
  it("validates input with a clear 400", async () => {
    const bad = await request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId: "12345" });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0]).toMatchObject({ path: "orderId", message: expect.stringContaining("UUID") });
    expect((await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR 1!", lastname: "Silva" })).status).toBe(400);
    expect((await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-1234567" })).status).toBe(400);
    expect((await request(ctx.app).post("/tracking/mfb-orders").send({ orderId: randomUUID() })).status).toBe(401);
  });

  it("is idempotent, readable, and stoppable by an operator (DELETE)", async () => {
    const id = randomUUID();
    mfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
    expect((await track(ctx.app, id, "PO-1")).status).toBe(201);
    const again = await track(ctx.app, id, "PO-1");
    expect(again.status).toBe(200);
    expect(await ctx.prisma.mfbOrder.count({ where: { id } })).toBe(1);
    await eventually(async () => (await orderView(id)).status === "created", 10_000, "first poll");
    const stopped = await request(ctx.app).delete(`/tracking/mfb-orders/${id}`).set(auth);
    expect(stopped.body.polling).toMatchObject({ active: false, stoppedReason: "stopped_by_operator", nextPollAt: null });
    const polls = mfb.pollsOf(id);
    // Two sweeps after the stop (or the delivery), and nothing queued: a poll would have happened by now.
    await ctx.jobsCompleted("sweep-mfb", 2);
    await ctx.settled();
    expect(mfb.pollsOf(id)).toBe(polls);
    expect((await request(ctx.app).get(`/tracking/mfb-orders/${randomUUID()}`).set(auth)).status).toBe(404);
  });
});

describe("MFB tracking", () => {
  it("follows a parcel's whole life, emits each status once, and stops when delivered", async () => {
    const id = randomUUID();
    const events = [mfbEvent("shipment_created", t(0))];
    mfb.orders.set(id, [{ parcel_index: 0, events }]);
    await track(ctx.app, id, "PO-42");
    await eventually(async () => (await orderView(id)).status === "created", 10_000, "created");
    for (const [code, minute, status] of [
      ["picked_up", 10, "picked_up"],
      ["departed_from_facility", 20, "in_transit"],
      ["arrived_at_facility", 30, "in_transit"],
      ["delivery_in_progress", 40, "out_for_delivery"],
      ["delivered", 50, "delivered"],
    ] as const) {
      events.push(mfbEvent(code, t(minute), { location: { city: "NICE", country: "FR" } }));
      await eventually(
        async () => (await orderView(id)).status === status && (await ctx.prisma.mfbTrackingEvent.count({ where: { orderId: id } })) === events.length,
        10_000,
        status,
      );
    }
    const view = await orderView(id);
    expect(view.polling).toMatchObject({ active: false, stoppedReason: "delivered", nextPollAt: null, consecutiveFailures: 0 });
    expect(view.parcels[0]).toMatchObject({ parcelIndex: 0, status: "delivered", lastCode: "delivered" });
    expect(view.parcels[0].events).toHaveLength(6);
    expect(view.history.map((h: { status: string }) => h.status)).toEqual(["created", "picked_up", "in_transit", "out_for_delivery", "delivered"]);
    const types = await eventTypes(id);
    expect(types.filter((x) => x === "shipment.tracking_event")).toHaveLength(6);
    expect(types.filter((x) => x !== "shipment.tracking_event")).toEqual([
      "shipment.created",
      "shipment.picked_up",
      "shipment.in_transit",
      "shipment.out_for_delivery",
      "shipment.delivered",
    ]);
    const delivered = await ctx.prisma.event.findFirstOrThrow({ where: { entityId: id, type: "shipment.delivered" } });
    expect(delivered.envelope).toMatchObject({
      source: "myflyingbox",
      subject: `shipment/${id}`,
      data: { externalId: "PO-42", phase: "completed", previousStatus: "out_for_delivery" },
    });
    const tracking = await ctx.prisma.event.findFirstOrThrow({
      where: { entityId: id, providerStatus: undefined, type: "shipment.tracking_event" },
      orderBy: { sequence: "desc" },
    });
    expect((tracking.envelope as any).data.details).toMatchObject({ parcelIndex: 0, code: "delivered", label: "Delivered", location: { city: "NICE" } });
    const polls = mfb.pollsOf(id);
    // Two sweeps after the stop (or the delivery), and nothing queued: a poll would have happened by now.
    await ctx.jobsCompleted("sweep-mfb", 2);
    await ctx.settled();
    expect(mfb.pollsOf(id)).toBe(polls);
  });

  it("folds two parcels: delivered only when the second one is", async () => {
    const id = randomUUID();
    const p0 = [mfbEvent("shipment_created", t(0)), mfbEvent("picked_up", t(5))];
    const p1 = [mfbEvent("shipment_created", t(0)), mfbEvent("picked_up", t(6))];
    mfb.orders.set(id, [
      { parcel_index: 0, events: p0 },
      { parcel_index: 1, events: p1 },
    ]);
    await track(ctx.app, id);
    await eventually(async () => (await orderView(id)).status === "picked_up", 10_000, "picked up");
    p0.push(mfbEvent("delivered", t(30)));
    p1.push(mfbEvent("in_transit", t(31)));
    await eventually(
      async () => (await orderView(id)).parcels.map((p: { status: string }) => p.status).join() === "delivered,in_transit",
      10_000,
      "parcel 0 delivered",
    );
    expect((await orderView(id)).status).toBe("in_transit");
    expect((await orderView(id)).polling.active).toBe(true);
    p1.push(mfbEvent("delivered", t(90)));
    await eventually(async () => (await orderView(id)).status === "delivered", 10_000, "order delivered");
    expect((await orderView(id)).polling).toMatchObject({ active: false, stoppedReason: "delivered" });
  });

  it("uses parcel_index and happened_at, not array order, and never stores an event twice", async () => {
    const id = randomUUID();
    // Parcel 1 listed first, events newest first.
    mfb.orders.set(id, [
      { parcel_index: 1, events: [mfbEvent("in_transit", t(20)), mfbEvent("picked_up", t(10)), mfbEvent("shipment_created", t(0))] },
      { parcel_index: 0, events: [mfbEvent("delivered", t(40)), mfbEvent("delivery_in_progress", t(35)), mfbEvent("shipment_created", t(0))] },
    ]);
    await track(ctx.app, id);
    await eventually(async () => (await orderView(id)).status === "in_transit", 10_000, "folded");
    const view = await orderView(id);
    expect(view.parcels.map((p: { parcelIndex: number; status: string }) => [p.parcelIndex, p.status])).toEqual([
      [0, "delivered"],
      [1, "in_transit"],
    ]);
    await eventually(async () => mfb.pollsOf(id) >= 3, 10_000, "more polls");
    expect(await ctx.prisma.mfbTrackingEvent.count({ where: { orderId: id } })).toBe(6);
    expect((await eventTypes(id)).filter((x) => x === "shipment.tracking_event")).toHaveLength(6);
    const times = (await ctx.prisma.event.findMany({ where: { entityId: id, type: "shipment.tracking_event" }, orderBy: { sequence: "asc" } })).map((e) =>
      e.time.getTime(),
    );
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("stores unknown and future codes with their English label and keeps going", async () => {
    const id = randomUUID();
    const events = [
      mfbEvent("shipment_created", t(0)),
      { code: "unknown", happened_at: t(5), label: { en: "Held at customs for inspection" } },
      { code: "drone_dispatched", happened_at: t(6), label: { en: "Drone dispatched", fr: "Drone envoyé" } },
    ];
    mfb.orders.set(id, [{ parcel_index: 0, events }]);
    await track(ctx.app, id);
    await eventually(async () => (await ctx.prisma.mfbTrackingEvent.count({ where: { orderId: id } })) === 3, 10_000, "3 stored");
    const view = await orderView(id);
    expect(view.status).toBe("created");
    const unknown = await ctx.prisma.event.findFirstOrThrow({
      where: { entityId: id, type: "shipment.tracking_event", envelope: { path: ["data", "providerStatus"], equals: "unknown" } },
    });
    expect((unknown.envelope as any).data.details.label).toBe("Held at customs for inspection");
    expect(view.polling.consecutiveFailures).toBe(0);
  });

  it("emits exception, keeps polling, then delivered", async () => {
    const id = randomUUID();
    const events = [
      mfbEvent("shipment_created", t(0)),
      mfbEvent("delivery_in_progress", t(10)),
      mfbEvent("delivery_exception", t(20), { details: { code: "not_available_or_closed", label: { en: "Customer not available or business closed" } } }),
    ];
    mfb.orders.set(id, [{ parcel_index: 0, events }]);
    await track(ctx.app, id);
    await eventually(async () => (await orderView(id)).status === "exception", 10_000, "exception");
    expect((await orderView(id)).polling.active).toBe(true);
    const exception = await ctx.prisma.event.findFirstOrThrow({ where: { entityId: id, type: "shipment.exception" } });
    expect(exception.envelope).toMatchObject({ data: { phase: "exception" } });
    const polls = mfb.pollsOf(id);
    await eventually(async () => mfb.pollsOf(id) > polls + 1, 10_000, "still polled");
    events.push(mfbEvent("delivered", t(60)));
    await eventually(async () => (await orderView(id)).status === "delivered", 10_000, "delivered");
    // The first poll saw three steps at once: one status event for where they fold to, a tracking event each.
    expect((await eventTypes(id)).filter((x) => x !== "shipment.tracking_event")).toEqual(["shipment.exception", "shipment.delivered"]);
    expect((await eventTypes(id)).filter((x) => x === "shipment.tracking_event")).toHaveLength(4);
  });

  it("stops an unknown order on 404 resource_not_found", async () => {
    const id = randomUUID();
    await track(ctx.app, id);
    await eventually(async () => (await orderView(id)).polling.stoppedReason === "not_found", 10_000, "stopped");
    expect((await orderView(id)).polling).toMatchObject({ active: false, lastError: expect.stringContaining("resource_not_found") });
  });

  it("retries 500 internal and timeouts with backoff, then recovers", async () => {
    const id = randomUUID();
    mfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
    mfb.failures.set(id, [
      { status: 500, body: { status: "failure", error: { type: "internal", message: "boom" } } },
      { status: 200, body: { status: "success", data: [] }, delayMs: 1_500 }, // beyond PROVIDER_TIMEOUT_MS
    ]);
    await track(ctx.app, id);
    await eventually(async () => (await ctx.prisma.mfbOrder.findUnique({ where: { id } }))?.consecutiveFailures === 2, 15_000, "two failures");
    const failing = await orderView(id);
    expect(failing.polling.lastError).toMatch(/timed out/);
    expect(failing.polling.active).toBe(true);
    await eventually(async () => (await orderView(id)).status === "created", 15_000, "recovered");
    expect((await orderView(id)).polling.consecutiveFailures).toBe(0);
  });

  it("honours Retry-After on 429", async () => {
    const id = randomUUID();
    mfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
    mfb.failures.set(id, [{ status: 429, headers: { "retry-after": "2" }, body: { status: "failure", error: { type: "rate_limited" } } }]);
    await track(ctx.app, id);
    await eventually(async () => (await orderView(id)).status === "created", 15_000, "polled after the wait");
    const polls = mfb.server.requests.filter((r) => r.path === `/v2/orders/${id}/tracking`);
    // wall clock: the wait the provider asked for (Retry-After), between two real polls.
    expect(polls[1]!.receivedAt - polls[0]!.receivedAt).toBeGreaterThanOrEqual(1_900);
  });
});

describe("credentials refused (401)", () => {
  it("pauses all polling of that provider without counting failures", async () => {
    const ownMfb = await startFakeMfb();
    const own = await createTestContext({ ...providerEnv(), MFB_API_BASE_URL: ownMfb.url, MFB_PASSWORD: "wrong-password" });
    try {
      await own.startWorker();
      const ids = [randomUUID(), randomUUID()];
      for (const id of ids) {
        ownMfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
        await track(own.app, id);
      }
      const state = await eventually(() => own.prisma.providerState.findUnique({ where: { provider: "mfb" } }), 10_000, "paused");
      expect(state.pausedUntil!.getTime()).toBeGreaterThan(Date.now() + 60_000);
      await own.settled();
      const requests = ownMfb.server.requests.length;
      await own.jobsCompleted("sweep-mfb", 2);
      await own.settled();
      expect(ownMfb.server.requests.length).toBe(requests);
      // Before the first 401 is recorded, each order's registration poll and at most one sweep's poll (claimed
      // before the pause) may already be on their way; after it, none (above).
      for (const id of ids) expect(ownMfb.server.requests.filter((r) => r.path === `/v2/orders/${id}/tracking`).length).toBeLessThanOrEqual(2);
      for (const id of ids) {
        const order = await own.prisma.mfbOrder.findUniqueOrThrow({ where: { id } });
        expect(order.active).toBe(true);
        expect(order.consecutiveFailures).toBe(0);
      }
    } finally {
      await own.close();
      await ownMfb.close();
    }
  });

  it("an operator resumes a paused provider once the credentials are fixed", async () => {
    const ownMfb = await startFakeMfb();
    const own = await createTestContext({ ...providerEnv(), MFB_API_BASE_URL: ownMfb.url });
    try {
      ownMfb.override = { status: 401, body: { status: "failure", error: { type: "access_denied", message: "Unauthorized" } } };
      await own.startWorker();
      const id = randomUUID();
      ownMfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
      await track(own.app, id);
      await eventually(() => own.prisma.providerState.findUnique({ where: { provider: "mfb" } }), 10_000, "paused");
      const providers = await request(own.app).get("/admin/providers").set(auth);
      expect(providers.body.data.find((p: { provider: string }) => p.provider === "mfb")).toMatchObject({ paused: true });
      ownMfb.override = undefined; // credentials fixed upstream
      const resumed = await request(own.app).post("/admin/providers/mfb/resume").set(auth);
      expect(resumed.body).toMatchObject({ kind: "resumed", provider: "mfb", rescheduled: 1 });
      await eventually(async () => (await orderView(id, own.app)).status === "created", 10_000, "polled after resume");
      expect(await own.prisma.auditLog.count({ where: { action: "provider.resume" } })).toBe(1);
      expect((await request(own.app).post("/admin/providers/ups/resume").set(auth)).status).toBe(404);
    } finally {
      await own.close();
      await ownMfb.close();
    }
  });

  it("GreenFlow's 401 pauses GreenFlow polling", async () => {
    const ownGf = await startFakeGreenflow();
    const own = await createTestContext({ ...providerEnv(), GREENFLOW_API_BASE_URL: ownGf.url, GREENFLOW_API_KEY: "gfc_wrong" });
    try {
      await own.startWorker();
      ownGf.bookings.set("BR-401", { lastname: "Silva", status: "RESERVED" });
      await request(own.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-401", lastname: "Silva" });
      const state = await eventually(() => own.prisma.providerState.findUnique({ where: { provider: "greenflow" } }), 10_000, "paused");
      expect(state.pauseReason).toContain("401");
      await own.settled();
      const requests = ownGf.server.requests.length;
      await own.jobsCompleted("sweep-greenflow", 2);
      await own.settled();
      expect(ownGf.server.requests.length).toBe(requests);
    } finally {
      await own.close();
      await ownGf.close();
    }
  });
});

describe("GreenFlow bookings", () => {
  it("follows RESERVED → cancelled and stops; records gds.status; never logs or returns the lastname", async () => {
    greenflow.bookings.set("BR-1234567", { lastname: "Silva", status: "RESERVED", gdsStatus: "RESERVED", localNumber: "GFC042389XY" });
    const created = await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-1234567", lastname: "Silva" });
    expect(created.status).toBe(201);
    const view = () => request(ctx.app).get("/tracking/greenflow-bookings/BR-1234567").set(auth);
    await eventually(async () => (await view()).body.status === "reserved", 10_000, "reserved");
    expect((await view()).body).toMatchObject({ gdsStatus: "RESERVED", localNumber: "GFC042389XY" });
    greenflow.bookings.set("BR-1234567", { lastname: "Silva", status: "CANCELLED", gdsStatus: "XX", localNumber: "GFC042389XY" });
    await eventually(async () => (await view()).body.status === "cancelled", 10_000, "cancelled");
    const body = (await view()).body;
    expect(body.polling).toMatchObject({ active: false, stoppedReason: "cancelled" });
    expect(body.gdsStatus).toBe("XX");
    expect(body.history.map((h: { status: string }) => h.status)).toEqual(["reserved", "cancelled"]);
    expect(JSON.stringify(body)).not.toContain("Silva");
    const events = await ctx.prisma.event.findMany({ where: { entity: "rental", entityId: "BR-1234567" }, orderBy: { sequence: "asc" } });
    expect(events.map((e) => e.type)).toEqual(["rental.reserved", "rental.cancelled"]);
    expect(events[1]!.envelope).toMatchObject({
      source: "greenflow",
      data: { phase: "cancelled", providerStatus: "CANCELLED", previousStatus: "reserved", details: { gdsStatus: "XX" } },
    });
    const lookup = greenflow.server.requests.find((r) => r.path === "/api/v1/bookings/BR-1234567")!;
    expect(lookup.query.get("lastname")).toBe("Silva");
    expect(lookup.headers.authorization).toBe(`Bearer ${GREENFLOW_KEY}`);
  });

  it("stops on 404 (mismatched lastname) and keeps the item on 422", async () => {
    greenflow.bookings.set("BR-777", { lastname: "Silva", status: "RESERVED" });
    await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-777", lastname: "Souza" });
    await eventually(
      async () => (await ctx.prisma.greenflowBooking.findUnique({ where: { bookingCode: "BR-777" } }))?.stoppedReason === "not_found",
      10_000,
      "stopped",
    );

    greenflow.bookings.set("GFC000422AB", { lastname: "Lima", status: "RESERVED" });
    greenflow.failures.set("GFC000422AB", [{ status: 422, body: { error: { message: "RATE NOT AVAILABLE FOR THIS CAR CLASS" } } }]);
    await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "GFC000422AB", lastname: "Lima" });
    await eventually(
      async () => (await ctx.prisma.greenflowBooking.findUnique({ where: { bookingCode: "GFC000422AB" } }))?.status === "reserved",
      15_000,
      "recovered after 422",
    );
    const row = await ctx.prisma.greenflowBooking.findUniqueOrThrow({ where: { bookingCode: "GFC000422AB" } });
    expect(row.active).toBe(true);
  });
});

describe("delivery of shipment and rental events", () => {
  it("every shipment and rental event type reaches a verifying subscriber", async () => {
    const sub = await startSubscriber();
    try {
      await subscribe(ctx.app, sub, ["shipment.*", "rental.*"]);
      const id = randomUUID();
      const events = [mfbEvent("shipment_created", t(0))];
      mfb.orders.set(id, [{ parcel_index: 0, events }]);
      await track(ctx.app, id);
      for (const [code, minute] of [
        ["picked_up", 5],
        ["in_transit", 10],
        ["delivery_in_progress", 15],
        ["delivery_exception", 20],
        ["delivered", 30],
      ] as const) {
        await eventually(async () => (await ctx.prisma.mfbTrackingEvent.count({ where: { orderId: id } })) === events.length, 10_000, "caught up");
        events.push(mfbEvent(code, t(minute)));
      }
      greenflow.bookings.set("BR-DLV-1", { lastname: "Costa", status: "RESERVED" });
      await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-DLV-1", lastname: "Costa" });
      await eventually(async () => sub.received.some((r) => r.event.type === "rental.reserved"), 10_000, "reserved delivered");
      greenflow.bookings.set("BR-DLV-1", { lastname: "Costa", status: "CANCELLED" });
      const expected = ["created", "picked_up", "in_transit", "out_for_delivery", "exception", "delivered", "tracking_event"]
        .map((s) => `shipment.${s}`)
        .concat(["rental.reserved", "rental.cancelled"]);
      await eventually(async () => expected.every((type) => sub.received.some((r) => r.event.type === type)), 20_000, "every type delivered");
      for (const r of sub.received) expect(r.webhookId).toBe(r.event.id);
    } finally {
      await sub.close();
    }
  });
});

describe("sweeps at scale", () => {
  it("concurrent sweeps claim disjoint sets: no item is ever claimed twice", async () => {
    const own = await createTestContext();
    try {
      const ids = Array.from({ length: 400 }, () => randomUUID());
      await own.prisma.mfbOrder.createMany({ data: ids.map((id) => ({ id, nextPollAt: new Date(Date.now() - 1000) })) });
      const claims = await Promise.all(Array.from({ length: 6 }, () => claimDue(own.db, "mfb", 50, 600_000)));
      const again = await Promise.all(Array.from({ length: 6 }, () => claimDue(own.db, "mfb", 50, 600_000)));
      const all = [...claims, ...again].flat();
      expect(all).toHaveLength(400);
      expect(new Set(all).size).toBe(400);
      expect(await claimDue(own.db, "mfb", 50, 600_000)).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it("two workers sweeping together poll each due order exactly once per round", async () => {
    const ownMfb = await startFakeMfb();
    const own = await createTestContext({ ...providerEnv(), MFB_API_BASE_URL: ownMfb.url, MFB_POLL_INTERVAL_MS: "3600000", POLL_SWEEP_INTERVAL_MS: "100" });
    try {
      const ids = Array.from({ length: 60 }, () => randomUUID());
      for (const id of ids) ownMfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
      await own.prisma.mfbOrder.createMany({ data: ids.map((id) => ({ id, nextPollAt: new Date() })) });
      await Promise.all([own.startWorker(), own.startWorker()]);
      await eventually(async () => (await own.prisma.mfbOrder.count({ where: { status: "created" } })) === 60, 20_000, "all polled");
      await own.settled();
      for (const id of ids) expect(ownMfb.pollsOf(id)).toBe(1);
      expect(await own.prisma.event.count({ where: { type: "shipment.created" } })).toBe(60);
    } finally {
      await own.close();
      await ownMfb.close();
    }
  });
});
