// Bad input stopped at the door: each case here was accepted (or answered 500) before.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertSubscription } from "../../src/db/subscriptions.js";
import { audited } from "../../src/db/audit.js";
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

describe("no unaudited change", () => {
  it("a change whose audit row cannot be written is rolled back with it", async () => {
    const before = await ctx.prisma.subscription.count();
    await expect(
      audited(ctx.db, ctx.log, async (tx) => {
        const created = await insertSubscription(tx, {
          id: randomUUID(),
          url: "http://127.0.0.1:9/x",
          eventTypes: ["*"],
          description: null,
          secret: "whsec_x",
          ordering: "none",
          maxInFlight: 16,
          rateLimitPerSecond: null,
        });
        // jsonb refuses \u0000: the audit insert fails.
        return { result: created, audit: { actor: "test", action: "subscription.create", target: created.id, details: { bad: "\u0000" } } };
      }),
    ).rejects.toThrow();
    expect(await ctx.prisma.subscription.count()).toBe(before);
  });

  it("each subscription change writes its audit row", async () => {
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/x", eventTypes: ["*"] });
    expect(res.status).toBe(201);
    await request(ctx.app).post(`/subscriptions/${res.body.id}/disable`).set(auth).expect(200);
    await request(ctx.app).delete(`/subscriptions/${res.body.id}`).set(auth).expect(204);
    const actions = (await ctx.prisma.auditLog.findMany({ where: { target: res.body.id }, orderBy: { id: "asc" } })).map((a) => a.action);
    expect(actions).toEqual(["subscription.create", "subscription.disable", "subscription.delete"]);
  });
});

describe("admin surface", () => {
  const basic = `Basic ${Buffer.from(`ops:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
  it("Basic auth works under /admin/ui only", async () => {
    expect((await request(ctx.app).get("/admin/queues").set("authorization", basic)).status).toBe(401);
    expect((await request(ctx.app).get("/subscriptions").set("authorization", basic)).status).toBe(401);
    expect((await request(ctx.app).get("/admin/ui").set("authorization", basic)).status).toBe(200);
  });

  it("a state-changing request to /admin/ui from another origin is refused", async () => {
    const path = "/admin/ui/api/queues/flovi-events/retry/failed";
    const cross = await request(ctx.app).put(path).set("authorization", basic).set("origin", "https://evil.example").set("sec-fetch-site", "cross-site");
    expect(cross.status).toBe(403);
    expect(cross.body.error).toBe("cross_origin_refused");
    const same = await request(ctx.app).put(path).set("authorization", basic).set("sec-fetch-site", "same-origin");
    expect(same.status).not.toBe(403);
  });

  it("nosniff everywhere, framing denied, no X-Powered-By", async () => {
    for (const path of ["/healthz", "/admin/ui"]) {
      const res = await request(ctx.app).get(path).set("authorization", basic);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
  });

  it("lists stored webhooks with their sizes computed by Postgres", async () => {
    const body = Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: "h-size", state: "created", pad: "p".repeat(500) }));
    const stored = await postFlovi(ctx.app, body);
    const res = await request(ctx.app).get("/admin/webhooks?limit=500").set(auth);
    expect(res.status).toBe(200);
    expect(res.body.data.find((d: { id: string }) => d.id === stored.body.id)).toMatchObject({ bodyBytes: body.length, status: "received" });
    expect(res.body.data[0]).not.toHaveProperty("rawBody");
  });
});
