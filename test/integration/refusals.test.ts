// Bad input stopped at the door, and cheaply: bodies that can never be processed, missing or wrong
// signatures (and a sender of many), values that once answered 500. Each case was accepted (or a 500) before.
import { createHmac, randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { createTestContext, TEST_ADMIN_TOKEN, TEST_SECRET, type TestContext } from "../helpers/context.js";
import { postFlovi } from "../helpers/flovi.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const queued = async () => await ctx.queues.get("flovi-events").getJobCounts("waiting", "active", "delayed", "completed", "failed");
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe("the ingress refuses bodies that can never be processed", () => {
  const nested = (depth: number): unknown => (depth === 0 ? "x" : { a: nested(depth - 1) });
  const cases: [string, string][] = [
    ["a NUL in a string", `{"event":"reservation_status_change","reservationId":"h-1","state":"created","note":"a\\u0000b"}`],
    ["a lone surrogate", `{"event":"reservation_status_change","reservationId":"h-2","state":"created","note":"\\ud800"}`],
    ["a non-finite number", `{"event":"reservation_status_change","reservationId":"h-3","state":"final_costs","price":1e400}`],
    ["nesting past 32 levels", JSON.stringify({ event: "reservation_status_change", reservationId: "h-5", state: "created", extra: nested(40) })],
  ];
  for (const [what, body] of cases) {
    it(`${what}: 422, stored as rejected with a reason, nothing queued`, async () => {
      const before = total(await queued());
      const res = await postFlovi(ctx.app, Buffer.from(body));
      expect(res.status).toBe(422);
      expect(res.body.error).toMatch(/unprocessable_value|invalid_payload/);
      expect(res.body.message).toBeTruthy();
      const row = await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } });
      expect(row.status).toBe("rejected");
      expect(row.statusReason).toBeTruthy();
      await new Promise((r) => setImmediate(r));
      expect(total(await queued())).toBe(before);
    });
  }
});

describe("cheap refusals", () => {
  it("a request without a signature is refused before its body is read, and says the header is missing", async () => {
    const res = await request(ctx.app)
      .post("/webhooks/flovi")
      .set("content-type", "application/json")
      .send({ big: "x".repeat(100_000) });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: "missing_signature", message: "x-hub-signature is missing" });
    expect(res.headers.connection).toBe("close");
  });

  it("a malformed signature is refused the same way; a wrong one says it does not verify", async () => {
    const malformed = await postFlovi(ctx.app, { a: 1 }, { signature: "sha256=zz" });
    expect(malformed.body.error).toBe("malformed_signature");
    const wrong = await postFlovi(ctx.app, { a: 1 }, { secret: "another-secret-value" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toContain("does not verify");
  });

  it("reports a weak webhook secret in /readyz", async () => {
    const weak = await createTestContext({ FLOVI_WEBHOOK_SECRET: "short" });
    try {
      expect((await request(weak.app).get("/readyz")).body.warnings).toEqual(["weak_webhook_secret"]);
      expect((await request(ctx.app).get("/readyz")).body.warnings).toEqual([]);
    } finally {
      await weak.close();
    }
    expect(TEST_SECRET.length).toBeGreaterThanOrEqual(16);
  });
});

describe("no 500 from a path, query or body value", () => {
  const nul = "%00";
  const probes: [string, string, unknown?][] = [
    ["GET", `/reservations/a${nul}b`],
    ["GET", `/tracking/greenflow-bookings/a${nul}b`],
    ["GET", `/events?subject=reservation/a${nul}b`],
    ["POST", "/subscriptions", { url: "http://127.0.0.1:9/x", eventTypes: ["*"], description: "a\u0000b" }],
    ["POST", "/tracking/greenflow-bookings", { bookingCode: "ABC123", lastname: "Do\u0000e" }],
    ["POST", "/tracking/mfb-orders", { orderId: randomUUID(), reference: "r\u0000" }],
    ["POST", "/admin/queues/flovi-events/retry-failed", { failedReasonContains: "x\u0000" }],
    ["POST", "/subscriptions", { url: "http://127.0.0.1:9/\ud800", eventTypes: ["*"] }],
  ];
  for (const [method, path, body] of probes) {
    it(`${method} ${path.replace(nul, "%00")} ${body ? JSON.stringify(body).slice(0, 60) : ""}: 400 naming the problem`, async () => {
      const before = await ctx.prisma.subscription.count();
      const req =
        method === "GET"
          ? request(ctx.app).get(path)
          : request(ctx.app)
              .post(path)
              .send(body as object);
      const res = await req.set(auth);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: "invalid_characters", message: expect.stringMatching(/NUL|surrogate/) });
      expect(await ctx.prisma.subscription.count()).toBe(before);
    });
  }
});

describe("cheap refusal of a sender of wrong signatures", () => {
  it("after the limit, that address is refused unread (429, Retry-After) while a good signer elsewhere is not", async () => {
    const app = buildApp({
      config: { ...ctx.config, WEBHOOK_BAD_SIGNATURE_LIMIT: 5, TRUST_PROXY: "loopback" },
      db: ctx.db,
      redis: ctx.redis,
      queues: ctx.queues,
      log: ctx.log,
      metrics: ctx.metrics,
    });
    const big = Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: "hb2-bad", state: "created", pad: "p".repeat(200_000) }));
    const from = (address: string) => (r: request.Test) => r.set("x-forwarded-for", address);
    const attacker = from("203.0.113.7");
    for (let i = 0; i < 5; i++) {
      const res = await attacker(
        request(app)
          .post("/webhooks/flovi")
          .set("x-hub-signature", `sha256=${"0".repeat(64)}`),
      ).send(big);
      expect(res.status).toBe(401);
    }
    const refused = await attacker(
      request(app)
        .post("/webhooks/flovi")
        .set("x-hub-signature", `sha256=${"0".repeat(64)}`),
    ).send(big);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(refused.body.error).toBe("too_many_bad_signatures");
    // Even a correct signature from that address waits out the block (Flovi retries a 429)...
    const goodBody = JSON.stringify({ event: "reservation_status_change", reservationId: "hb2-good", state: "created" });
    const sign = (body: string) => `sha256=${createHmac("sha256", TEST_SECRET).update(body).digest("hex")}`;
    expect((await attacker(request(app).post("/webhooks/flovi").set("x-hub-signature", sign(goodBody)).type("application/json")).send(goodBody)).status).toBe(
      429,
    );
    // ...while Flovi's own address is never affected.
    const flovi = await from("198.51.100.20")(request(app).post("/webhooks/flovi").set("x-hub-signature", sign(goodBody)).type("application/json")).send(
      goodBody,
    );
    expect(flovi.status).toBe(202);
    expect(await ctx.prisma.inboundDelivery.count({ where: { orderingKey: "hb2-bad" } })).toBe(0);
  });
});
