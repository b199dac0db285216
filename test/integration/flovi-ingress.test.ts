import { createHmac } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe } from "../helpers/subscriber.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ FLOVI_WEBHOOK_SECRET: "first-secret,second-secret", WEBHOOK_BODY_LIMIT_BYTES: "2048" });
});
afterAll(() => ctx.close());

const countStored = () => ctx.prisma.inboundDelivery.count();
const sign = (secret: string, raw: Buffer) => `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`;

describe("POST /webhooks/flovi", () => {
  it("stores a signed status change before answering 202 and enqueues it with a deterministic job id", async () => {
    const res = await postFlovi(ctx.app, statusChange("created", "r-ingress-1"), { secret: "first-secret" });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), duplicate: false });
    expect(res.headers["x-request-id"]).toBeTruthy();
    const row = await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } });
    expect(row.status).toBe("received");
    expect(row.headers).toMatchObject({ "content-type": "application/json", "x-hub-signature": expect.stringMatching(/^sha256=/) });
    expect(row.bodyDigest).toMatch(/^[0-9a-f]{64}$/);
    // Enqueued right after the answer.
    const job = await eventually(() => ctx.queues.get("flovi-events").getJob(`flovi-${res.body.id}`), 5_000, "job");
    expect(job.data).toMatchObject({ inboundDeliveryId: res.body.id, requestId: res.headers["x-request-id"] });
  });

  it("accepts the second secret during a rotation", async () => {
    const res = await postFlovi(ctx.app, statusChange("created", "r-rotation"), { secret: "second-secret" });
    expect(res.status).toBe(202);
  });

  it("answers a repeated body with duplicate: true and stores nothing new", async () => {
    const body = Buffer.from(JSON.stringify(statusChange("taken", "r-dup")));
    const first = await postFlovi(ctx.app, body, { secret: "first-secret" });
    const before = await countStored();
    const second = await postFlovi(ctx.app, body, { secret: "first-secret" });
    expect(second.status).toBe(202);
    expect(second.body).toEqual({ id: first.body.id, duplicate: true });
    expect(await countStored()).toBe(before);
  });

  it("stores concurrent copies of one body once", async () => {
    const body = Buffer.from(JSON.stringify(statusChange("driving", "r-race")));
    const answers = await Promise.all(Array.from({ length: 8 }, () => postFlovi(ctx.app, body, { secret: "first-secret" })));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    expect(await ctx.prisma.inboundDelivery.count({ where: { id: answers[0]!.body.id } })).toBe(1);
  });

  describe("rejects every bad signature with 401 and stores nothing", () => {
    const raw = Buffer.from(JSON.stringify(statusChange("created", "r-forged")));
    const good = sign("first-secret", raw);
    const cases: [string, string | undefined, Buffer?][] = [
      ["missing header", undefined],
      ["wrong secret", sign("not-the-secret", raw)],
      ["sha1 prefix", `sha1=${createHmac("sha1", "first-secret").update(raw).digest("hex")}`],
      ["uppercase digest", good.replace(/=(.*)$/, (_, h: string) => `=${h.toUpperCase()}`)],
      ["short digest", good.slice(0, -2)],
      ["non-hex digest", `sha256=${"g".repeat(64)}`],
      ["bare hex of another secret", sign("not-the-secret", raw).slice("sha256=".length)],
      ["bare hex over an altered body", good.slice("sha256=".length), Buffer.from(raw.toString().replace("r-forged", "r-forgeD"))],
      ["body altered by one byte", good, Buffer.from(raw.toString().replace("r-forged", "r-forgeD"))],
    ];
    it.each(cases)("%s", async (_name, signature, body) => {
      const before = await countStored();
      let req = request(ctx.app).post("/webhooks/flovi").set("content-type", "application/json");
      if (signature !== undefined) req = req.set("x-hub-signature", signature);
      const res = await req.send((body ?? raw).toString("utf8"));
      expect(res.status).toBe(401);
      expect(res.body.error).toMatch(/signature|algorithm/);
      expect(await countStored()).toBe(before);
    });
  });

  it("answers 413 over the body limit and stores nothing", async () => {
    const before = await countStored();
    const big = { ...statusChange("created", "r-big"), padding: "x".repeat(4096) };
    const res = await postFlovi(ctx.app, big, { secret: "first-secret" });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("payload_too_large");
    expect(await countStored()).toBe(before);
  });

  it("verifies bytes whatever the content type", async () => {
    const res = await postFlovi(ctx.app, statusChange("created", "r-text"), { secret: "first-secret", contentType: "text/plain" });
    expect(res.status).toBe(202);
  });

  it("stores a signed non-JSON body as rejected and answers 400, never enqueued", async () => {
    const res = await postFlovi(ctx.app, "this is not json", { secret: "first-secret" });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "malformed_json", id: expect.any(String) });
    const row = await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } });
    expect(row).toMatchObject({ status: "rejected", statusReason: "malformed_json" });
    expect(await ctx.queues.get("flovi-events").getJob(`flovi-${res.body.id}`)).toBeUndefined();
  });

  it("stores a signed unknown state as rejected and answers 422", async () => {
    const res = await postFlovi(ctx.app, statusChange("teleported", "r-unknown"), { secret: "first-secret" });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe("unknown_state");
    expect((await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } })).status).toBe("rejected");
  });

  it("stores the dashboard's test ping as ignored and answers 202", async () => {
    const res = await postFlovi(ctx.app, { event: "ping", message: "hello" }, { secret: "first-secret" });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ignored: true, reason: "not_a_status_change", duplicate: false });
    expect((await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: res.body.id } })).status).toBe("ignored");
    expect(await ctx.queues.get("flovi-events").getJob(`flovi-${res.body.id}`)).toBeUndefined();
  });

  it("counts outcomes in /metrics", async () => {
    const res = await request(ctx.app).get("/metrics");
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/webhooks_received_total\{provider="flovi",outcome="accepted",reason=""\} \d+/);
    expect(res.text).toMatch(/webhooks_received_total\{provider="flovi",outcome="unauthorized",reason="signature_mismatch"\} \d+/);
    expect(res.text).toContain("process_cpu_seconds_total");
  });
});

describe("POST /webhooks/flovi without a configured secret", () => {
  it("refuses every request with 503", async () => {
    const bare = await createTestContext({ FLOVI_WEBHOOK_SECRET: undefined });
    try {
      const res = await postFlovi(bare.app, statusChange("created", "r-unconfigured"), { secret: "" });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe("webhook_secret_not_configured");
      expect(await bare.prisma.inboundDelivery.count()).toBe(0);
    } finally {
      await bare.close();
    }
  });
});

describe("processing", () => {
  it("a worker turns the stored delivery into reservation state", async () => {
    const worker = await ctx.startWorker();
    const res = await postFlovi(ctx.app, statusChange("created", "r-processed", { externalId: "WO-1" }), { secret: "first-secret" });
    const reservation = await eventually(() => ctx.prisma.reservation.findUnique({ where: { id: "r-processed" } }), 10_000, "reservation");
    expect(reservation).toMatchObject({ state: "created", externalId: "WO-1", sequence: 1 });
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed");
    await worker.close();
  });

  it("a webhook signed with bare hex (Flovi's own example) is accepted and its state reaches a subscriber", async () => {
    const worker = await ctx.startWorker();
    const sub = await startSubscriber();
    try {
      // The subscriber is on loopback: allowed for this context's subscriptions by SUBSCRIPTION_ALLOWED_HOSTS.
      await subscribe(ctx.app, sub, ["reservation.*"]);
      const body = Buffer.from(JSON.stringify(statusChange("created", "r-bare-hex")));
      const bare = createHmac("sha256", "second-secret").update(body).digest("hex");
      const res = await postFlovi(ctx.app, body, { signature: bare });
      expect(res.status).toBe(202);
      await eventually(
        async () => sub.received.some((r) => r.event.subject === "reservation/r-bare-hex" && r.event.type === "reservation.created"),
        10_000,
        "delivered",
      );
    } finally {
      await sub.close();
      await worker.close();
    }
  });
});
