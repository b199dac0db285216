// What the providers' documentation says, field by field, against fakes that answer as it does.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { mfbEvent, type FakeGreenflow, type FakeMfb } from "../../scripts/lib/fakes/providers.js";
import { startProviderContext, type ProviderContext } from "../helpers/providers.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let fakes: ProviderContext;
let mfb: FakeMfb;
let greenflow: FakeGreenflow;
let ctx: TestContext;
const env = (extra: Record<string, string> = {}) => fakes.env(extra);

beforeAll(async () => {
  fakes = await startProviderContext({
    // A 30 s sweep, as by default: a new item must not wait for it.
    POLL_SWEEP_INTERVAL_MS: "30000",
    MFB_POLL_INTERVAL_MS: "400",
    GREENFLOW_POLL_INTERVAL_MS: "400",
    GREENFLOW_TIME_ZONE: "Europe/Lisbon",
    PROVIDER_TIMEOUT_MS: "1000",
  });
  ({ mfb, greenflow, ctx } = fakes);
});
afterAll(() => fakes.close());

const t = (minute: number) => new Date(Date.UTC(2026, 5, 1, 8, minute)).toISOString();
const view = async (id: string) => (await request(ctx.app).get(`/tracking/mfb-orders/${id}`).set(auth)).body;
const events = (entityId: string) => ctx.prisma.event.findMany({ where: { entityId }, orderBy: { sequence: "asc" } });

describe("polling starts at once", () => {
  it("a newly registered MFB order and GreenFlow booking are polled within a second or two, not at the next sweep", async () => {
    // Intervals (and so sweeps) of 60 s: only the poll queued at registration can reach them this soon.
    const slow = await createTestContext(env({ POLL_SWEEP_INTERVAL_MS: "60000", MFB_POLL_INTERVAL_MS: "60000", GREENFLOW_POLL_INTERVAL_MS: "60000" }));
    try {
      await slow.startWorker();
      const orderId = randomUUID();
      mfb.orders.set(orderId, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(1))] }]);
      greenflow.bookings.set("BR-NOW-1", { lastname: "Silva", status: "RESERVED" });
      await request(slow.app).post("/tracking/mfb-orders").set(auth).send({ orderId }).expect(201);
      await request(slow.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-NOW-1", lastname: "Silva" }).expect(201);
      await eventually(async () => mfb.pollsOf(orderId) > 0 && greenflow.pollsOf("BR-NOW-1") > 0, 5_000, "both polled within 5 s");
    } finally {
      await slow.close();
    }
  });
});

describe("MyFlyingBox", () => {
  it("access_denied for an order of another account stops that order only; MFB polling goes on", async () => {
    const foreign = randomUUID();
    const ours = randomUUID();
    mfb.foreign.add(foreign);
    mfb.orders.set(ours, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(1))] }]);
    await request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId: foreign }).expect(201);
    const stopped = await eventually(
      async () => {
        const v = await view(foreign);
        return v.polling.active === false ? v : undefined;
      },
      8_000,
      "the foreign order stopped",
    );
    expect(stopped.polling.stoppedReason).toBe("access_denied");
    expect(stopped.polling.lastError).toContain("our credentials work");
    expect(await ctx.prisma.providerState.findUnique({ where: { provider: "mfb" } })).toBeNull(); // not paused
    await request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId: ours }).expect(201);
    await eventually(async () => (await view(ours)).status === "created", 8_000, "our order polled");
  });

  it("an event with location null, no label, a time without offset or an extra field is kept; one with no code is left out, not the response", async () => {
    const orderId = randomUUID();
    mfb.rawTracking.set(orderId, [
      {
        parcel_index: 0,
        events: [
          { code: "shipment_created", happened_at: "2026-06-01T08:00:00+02:00", label: { en: "Shipment created" }, location: null },
          { code: "picked_up", happened_at: "2026-06-01T07:15:00", carrier_extra: { scan: 42 } },
          { happened_at: "2026-06-01T11:00:00+02:00", label: { en: "no code at all" } },
          { code: "in_transit", happened_at: "2026-06-01T12:00:00+02:00", label: null, location: { city: "LYON" }, details: null },
        ],
      },
    ]);
    await request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId }).expect(201);
    const v = await eventually(
      async () => {
        const body = await view(orderId);
        return body.status === "in_transit" ? body : undefined;
      },
      8_000,
      "in transit",
    );
    expect(v.parcels[0].events.map((e: { code: string }) => e.code)).toEqual(["shipment_created", "picked_up", "in_transit"]);
    const tracking = (await events(orderId)).filter((e) => e.type === "shipment.tracking_event").map((e) => (e.envelope as any).data.details);
    // The time without offset is read as UTC, and kept as sent.
    expect(tracking.find((d) => d.code === "picked_up")).toMatchObject({ happenedAt: "2026-06-01T07:15:00.000Z", happenedAtRaw: "2026-06-01T07:15:00" });
    expect(tracking.find((d) => d.code === "in_transit")).toMatchObject({ label: "in_transit", location: { city: "LYON" } });
    expect(v.polling.consecutiveFailures).toBe(0);
  });

  it("an order is delivered only when every parcel of GET /orders/:id is; events carry carrier and product", async () => {
    const orderId = randomUUID();
    mfb.orderDetails.set(orderId, {
      id: orderId,
      parcels: [{ weight: "3" }, { weight: "1.75" }],
      offer: {
        product: { code: "ups_standard", carrier_code: "ups", name: "Standard" },
        total_price: { currency: "EUR", amount: 12.9, amount_in_cents: 1290 },
      },
    });
    // Tracking lists only the first parcel ("even if some packages are missing in the response").
    mfb.orders.set(orderId, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(1)), mfbEvent("delivered", t(30))] }]);
    await request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId }).expect(201);
    const first = await eventually(
      async () => {
        const body = await view(orderId);
        return body.order.parcelCount === 2 && body.polling.lastPolledAt ? body : undefined;
      },
      8_000,
      "details fetched and polled",
    );
    expect(first.order).toMatchObject({
      parcelCount: 2,
      carrier: "ups",
      product: "ups_standard",
      price: { amount: 12.9, currency: "EUR", amountMinor: 1290 },
      priceAsSent: { amount_in_cents: 1290 },
    });
    expect(first.polling.active).toBe(true);
    expect(first.status).not.toBe("delivered");
    mfb.orders.set(orderId, [
      { parcel_index: 0, events: [mfbEvent("shipment_created", t(1)), mfbEvent("delivered", t(30))] },
      { parcel_index: 1, events: [mfbEvent("shipment_created", t(2)), mfbEvent("delivered", t(40))] },
    ]);
    const done = await eventually(
      async () => {
        const body = await view(orderId);
        return body.status === "delivered" ? body : undefined;
      },
      8_000,
      "delivered",
    );
    expect(done.polling).toMatchObject({ active: false, stoppedReason: "delivered" });
    const delivered = (await events(orderId)).find((e) => e.type === "shipment.delivered")!;
    expect((delivered.envelope as any).data.details).toMatchObject({ carrier: "ups", product: "ups_standard", parcelCount: 2 });
    expect(mfb.server.requests.filter((r) => r.path === `/v2/orders/${orderId}`)).toHaveLength(1); // once
  });

  it("an order whose tracking never moves waits longer each poll, then stops with a reason", async () => {
    const stale = await createTestContext(env({ MFB_STALE_AFTER_MS: "3000", MFB_POLL_INTERVAL_MS: "200", MFB_POLL_CEILING_MS: "800" }));
    try {
      await stale.startWorker();
      const orderId = randomUUID();
      mfb.orders.set(orderId, [{ parcel_index: 0, events: [] }]);
      await request(stale.app).post("/tracking/mfb-orders").set(auth).send({ orderId }).expect(201);
      const order = await eventually(
        async () => {
          const row = await stale.prisma.mfbOrder.findUnique({ where: { id: orderId } });
          return row && !row.active ? row : undefined;
        },
        15_000,
        "stopped",
      );
      expect(order.stoppedReason).toBe("no_movement");
      expect(order.quietPolls).toBeGreaterThanOrEqual(2);
      // Subscribers are told: one shipment.tracking_stopped with the reason, in the same transaction as the stop.
      const stopped = await stale.prisma.event.findMany({ where: { entityId: orderId, type: "shipment.tracking_stopped" } });
      expect(stopped).toHaveLength(1);
      expect((stopped[0]!.envelope as any).data).toMatchObject({
        status: "unknown",
        phase: "exception",
        timeSource: "hub",
        details: { reason: "no_movement" },
      });
      // Polls spread out: 200 ms, then 400, 800 (the ceiling), 800… — far fewer than one per 200 ms over 3 s.
      expect(mfb.pollsOf(orderId)).toBeLessThan(3_000 / 200);
    } finally {
      await stale.close();
    }
  });
});

describe("GreenFlow", () => {
  it("a change of gds.status alone is an event; pickup_date is forwarded as an instant, the raw value beside it", async () => {
    greenflow.bookings.set("BR-GDS-1", { lastname: "Silva", status: "RESERVED", gdsStatus: "RESERVED" });
    await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-GDS-1", lastname: "Silva" }).expect(201);
    await eventually(async () => (await events("BR-GDS-1")).length === 1, 8_000, "reserved");
    greenflow.bookings.set("BR-GDS-1", { lastname: "Silva", status: "RESERVED", gdsStatus: "CONFIRMED" });
    const all = await eventually(
      async () => {
        const rows = await events("BR-GDS-1");
        return rows.length === 2 ? rows : undefined;
      },
      8_000,
      "gds change emitted",
    );
    const second = (all[1]!.envelope as any).data;
    expect(second).toMatchObject({ status: "reserved", previousStatus: "reserved", sequence: 2 });
    expect(second.details).toMatchObject({ changed: "gds_status", gdsStatus: "CONFIRMED", previousGdsStatus: "RESERVED" });
    // "2026-05-15 10:00:00" in Europe/Lisbon (UTC+1 in May).
    expect(second.details).toMatchObject({ pickupDate: "2026-05-15 10:00:00", pickupAt: "2026-05-15T09:00:00.000Z", dropoffAt: "2026-05-18T09:00:00.000Z" });
  });

  it("a status word the documentation does not define is kept, surfaced, and polled with backoff", async () => {
    greenflow.bookings.set("BR-ODD-1", { lastname: "Silva", status: "ON_HOLD_BY_DESK" });
    await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-ODD-1", lastname: "Silva" }).expect(201);
    const [event] = await eventually(
      async () => {
        const rows = await events("BR-ODD-1");
        return rows.length === 1 ? rows : undefined;
      },
      8_000,
      "event",
    );
    expect(event!.envelope as any).toMatchObject({
      type: "rental.on_hold_by_desk",
      data: { providerStatus: "ON_HOLD_BY_DESK", details: { undocumentedStatus: true } },
    });
    const providers = (await request(ctx.app).get("/admin/providers").set(auth)).body.data;
    expect(providers.find((p: { provider: string }) => p.provider === "greenflow").undocumentedStatuses).toEqual([{ status: "on_hold_by_desk", bookings: 1 }]);
    await eventually(
      async () => (await ctx.prisma.greenflowBooking.findUniqueOrThrow({ where: { bookingCode: "BR-ODD-1" } })).quietPolls >= 2,
      8_000,
      "backing off",
    );
    const metrics = (await request(ctx.app).get("/metrics")).text;
    expect(metrics).toContain('provider_undocumented_status_total{provider="greenflow",status="on_hold_by_desk"}');
  });
});
