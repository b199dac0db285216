// The README's walk, step by step: a subscription made with its curl line (no content type), a typo in event
// types explained, polling that is off saying why, and the envelope's JSON Schema served and held to.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cloudEventSchema } from "../../src/domain/events.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
let sub: Subscriber;
beforeAll(async () => {
  // No provider credentials: polling is off, as in a fresh `npm run dev`.
  ctx = await createTestContext({ MFB_LOGIN: undefined, MFB_PASSWORD: undefined, GREENFLOW_API_KEY: undefined });
  await ctx.startWorker();
  sub = await startSubscriber();
});
afterAll(async () => {
  await ctx.close();
  await sub.close();
});

describe("a newcomer's first hour", () => {
  it("the README's curl style (no content type) creates a subscription", async () => {
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .set("content-type", "application/x-www-form-urlencoded")
      .send(JSON.stringify({ url: "http://127.0.0.1:9/x", eventTypes: ["reservation.*"] }));
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_/);
  });

  it("a typo in eventTypes is a 400 that lists what is valid", async () => {
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/x", eventTypes: ["reservation.sealed", "foo.bar"] });
    expect(res.status).toBe(400);
    const message = res.body.issues[0].message as string;
    expect(message).toContain('unknown event type "foo.bar"');
    expect(message).toContain("reservation.final_costs");
    expect(message).toContain("shipment.tracking_event");
    for (const ok of ["*", "shipment.*", "rental.returned", "subscription.disabled"]) {
      expect(
        (
          await request(ctx.app)
            .post("/subscriptions")
            .set(auth)
            .send({ url: `http://127.0.0.1:9/x/${encodeURIComponent(ok)}`, eventTypes: [ok] })
        ).status,
        ok,
      ).toBe(201);
    }
  });

  it("registering while polling is off says so, and /admin/providers says why", async () => {
    const mfb = await request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId: "7a4e1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b" });
    expect(mfb.status).toBe(201);
    expect(mfb.body.warning).toContain("MyFlyingBox polling is off: MFB_LOGIN and MFB_PASSWORD are not both set");
    const gf = await request(ctx.app).post("/tracking/greenflow-bookings").set(auth).send({ bookingCode: "BR-1234567", lastname: "Doe" });
    expect(gf.body.warning).toContain("GREENFLOW_API_KEY is not set");
    const providers = await request(ctx.app).get("/admin/providers").set(auth);
    expect(providers.body.data).toEqual([
      expect.objectContaining({ provider: "mfb", enabled: false, why: "MFB_LOGIN and MFB_PASSWORD are not both set" }),
      expect.objectContaining({ provider: "greenflow", enabled: false, why: "GREENFLOW_API_KEY is not set" }),
    ]);
  });

  it("serves the envelope's JSON Schema, and every delivered event matches the schema the code uses", async () => {
    const schema = await request(ctx.app).get("/schemas/event.json");
    expect(schema.status).toBe(200);
    expect(schema.body).toMatchObject({ type: "object", required: expect.arrayContaining(["id", "type", "subject", "data"]) });
    await subscribe(ctx.app, sub, ["*"]);
    await postFlovi(ctx.app, statusChange("created", "nc-1", { externalId: "WO-1" }));
    await postFlovi(ctx.app, statusChange("cancelled", "nc-1", { cancellationReason: "OTHER_REASON" }));
    await eventually(async () => sub.received.filter((r) => r.event.subject === "reservation/nc-1").length === 2, 10_000, "two events");
    for (const r of sub.received) expect(cloudEventSchema.safeParse(r.event).error).toBeUndefined();
  });
});
