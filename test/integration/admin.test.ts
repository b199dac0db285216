import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
let sub: Subscriber;
let healthy = false;

beforeAll(async () => {
  ctx = await createTestContext({ DELIVERY_RETRY_SCHEDULE: "0,100ms,100ms" });
  await ctx.startWorker();
  sub = await startSubscriber();
  sub.respond = () => (healthy ? { status: 200 } : { status: 500, body: { error: "subscriber broken" } });
});
afterAll(async () => {
  await ctx.close();
  await sub.close();
});

const audits = async (action: string) => ctx.prisma.auditLog.findMany({ where: { action } });

describe("admin auth", () => {
  it.each(["/admin/queues", "/admin/queues/flovi-events/failed", "/admin/webhooks", "/admin/audit"])("GET %s needs the token", async (path) => {
    expect((await request(ctx.app).get(path)).status).toBe(401);
    expect((await request(ctx.app).get(path).set("authorization", "Bearer not-the-token-at-all")).status).toBe(401);
    expect((await request(ctx.app).get(path).set(auth)).status).toBe(200);
  });

  it("POST actions need the token", async () => {
    expect((await request(ctx.app).post(`/admin/webhooks/${randomUUID()}/replay`)).status).toBe(401);
    expect((await request(ctx.app).post(`/admin/deliveries/${randomUUID()}/retry`)).status).toBe(401);
    expect((await request(ctx.app).post("/admin/queues/flovi-events/retry-failed")).status).toBe(401);
  });

  it("Bull Board is mounted behind the same token (Basic auth for browsers)", async () => {
    const denied = await request(ctx.app).get("/admin/ui");
    expect(denied.status).toBe(401);
    expect(denied.headers["www-authenticate"]).toContain("Basic");
    const ok = await request(ctx.app).get("/admin/ui").auth("operator", TEST_ADMIN_TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("<html");
    const api = await request(ctx.app).get("/admin/ui/api/queues").set(auth);
    expect(api.status).toBe(200);
    expect(JSON.stringify(api.body)).toContain("webhook-deliveries");
  });

  it("unknown queue or job → 404 with a clear message", async () => {
    const q = await request(ctx.app).get("/admin/queues/nope/failed").set(auth);
    expect(q.status).toBe(404);
    expect(q.body.message).toContain("queue nope");
    const j = await request(ctx.app).post("/admin/queues/flovi-events/jobs/missing/retry").set(auth);
    expect(j.status).toBe(404);
    expect(j.body.message).toContain("job missing");
    expect((await request(ctx.app).post(`/admin/webhooks/${randomUUID()}/replay`).set(auth)).status).toBe(404);
  });
});

describe("replaying what failed", () => {
  it("a failed delivery job is listed, retried after the cause is fixed, and succeeds with the same webhook-id", async () => {
    healthy = false;
    const { id: subscriptionId } = await subscribe(ctx.app, sub, ["reservation.created"]);
    await postFlovi(ctx.app, statusChange("created", `adm-${randomUUID().slice(0, 8)}`));
    const failed = await eventually(
      async () => {
        const res = await request(ctx.app).get("/admin/queues/webhook-deliveries/failed").set(auth);
        return res.body.total >= 1 ? res.body : undefined;
      },
      15_000,
      "a failed job",
    );
    const job = failed.data[0];
    // Three attempts on the schedule, then parked as a failed job that names why.
    expect(job).toMatchObject({ name: "parked-delivery", data: { parked: true, attempt: 3 }, failedReason: expect.stringContaining("HTTP 500") });
    expect(await ctx.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: job.data.webhookDeliveryId } })).toMatchObject({ status: "failed", attempts: 3 });
    expect(job.stacktrace.length).toBeGreaterThan(0);
    expect(job.data.webhookDeliveryId).toBeTruthy();
    const overview = await request(ctx.app).get("/admin/queues").set(auth);
    expect(overview.body.data.find((q: { name: string }) => q.name === "webhook-deliveries").counts.failed).toBeGreaterThanOrEqual(1);

    healthy = true;
    const retried = await request(ctx.app).post(`/admin/queues/webhook-deliveries/jobs/${job.id}/retry`).set(auth);
    expect(retried.status).toBe(200);
    await eventually(async () => sub.received.length === 1, 15_000, "delivered after retry");
    const firstAttempt = sub.attempts[0]!.webhookId;
    expect(sub.received[0]!.webhookId).toBe(firstAttempt);
    // The attempt is recorded once the subscriber has answered (the recorder's group commit): wait for it.
    const delivery = await eventually(
      async () => {
        const row = await ctx.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: job.data.webhookDeliveryId } });
        return row.status === "succeeded" ? row : undefined;
      },
      10_000,
      "the retry recorded",
    );
    expect(delivery).toMatchObject({ status: "succeeded", attempts: 4 });
    expect(await audits("job.retry")).toHaveLength(1);

    // Retrying again: the job is no longer failed.
    expect((await request(ctx.app).post(`/admin/queues/webhook-deliveries/jobs/${job.id}/retry`).set(auth)).status).toBe(409);

    // Re-send the succeeded delivery: refused unless forced; forced, it arrives again with the same webhook-id.
    expect((await request(ctx.app).post(`/admin/deliveries/${delivery.id}/retry`).set(auth)).body.error).toBe("already_delivered");
    const resend = await request(ctx.app).post(`/admin/deliveries/${delivery.id}/retry`).set(auth).send({ force: true });
    expect(resend.status).toBe(202);
    expect(resend.body).toMatchObject({ webhookDeliveryId: delivery.id, deliveryId: delivery.id });
    await eventually(async () => sub.received.length === 2, 15_000, "re-sent");
    expect(sub.received[1]!.webhookId).toBe(sub.received[0]!.webhookId);
    expect(await audits("delivery.retry")).toHaveLength(1);

    // Recover: every failed delivery of the subscription since a time.
    healthy = false;
    await postFlovi(ctx.app, statusChange("created", `adm-${randomUUID().slice(0, 8)}`));
    await postFlovi(ctx.app, statusChange("created", `adm-${randomUUID().slice(0, 8)}`));
    await eventually(async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId, status: "failed" } })) === 2, 15_000, "two failed");
    healthy = true;
    const recover = await request(ctx.app)
      .post(`/admin/subscriptions/${subscriptionId}/recover`)
      .set(auth)
      .send({ since: new Date(Date.now() - 60_000).toISOString() });
    expect(recover.body).toMatchObject({ requeued: 2, sentNow: 0 });
    await eventually(async () => sub.received.length === 4, 15_000, "recovered");
    expect(await audits("subscription.recover")).toHaveLength(1);
  });

  it("retry-failed and removal work on the failed set, with audit rows", async () => {
    healthy = false;
    await ctx.queues.get("webhook-deliveries").clean(0, 10_000, "failed"); // only this test's failures from here
    await subscribe(ctx.app, sub, ["reservation.taken"]);
    for (let i = 0; i < 3; i++) await postFlovi(ctx.app, statusChange("taken", `adm-bulk-${i}-${randomUUID().slice(0, 6)}`));
    await eventually(async () => (await ctx.queues.get("webhook-deliveries").getFailedCount()) === 3, 15_000, "3 failed");
    const [first] = await ctx.queues.get("webhook-deliveries").getFailed(0, 0);
    const removed = await request(ctx.app).delete(`/admin/queues/webhook-deliveries/jobs/${first!.id}`).set(auth);
    expect(removed.status).toBe(200);
    healthy = true;
    const before = sub.received.length;
    // The job's former name still picks it (parked deliveries were `deliver` jobs before 2026-12).
    const bulk = await request(ctx.app).post("/admin/queues/webhook-deliveries/retry-failed").set(auth).send({ name: "deliver" });
    expect(bulk.body.retried).toBe(2);
    await eventually(async () => sub.received.length === before + 2, 15_000, "bulk retried");
    expect(await audits("job.remove")).toHaveLength(1);
    expect(await audits("queue.retry-failed")).toHaveLength(1);
  });

  it("a delivery parked under the job's former name (`deliver`) is still parked, and its retry still sends it", async () => {
    healthy = false;
    // The subscriber of the test above, when it ran.
    if (!(await ctx.prisma.subscription.findFirst({ where: { url: sub.url } }))) await subscribe(ctx.app, sub, ["reservation.created"]);
    await postFlovi(ctx.app, statusChange("created", `adm-old-${randomUUID().slice(0, 8)}`));
    const failed = await eventually(
      async () => (await ctx.prisma.webhookDelivery.findMany({ where: { status: "failed", event: { subject: { startsWith: "reservation/adm-old-" } } } }))[0],
      15_000,
      "a failed delivery",
    );
    // As the previous version parked it: a job named `deliver`.
    const queue = ctx.queues.get("webhook-deliveries");
    await queue.add("deliver", { webhookDeliveryId: failed.id, attempt: 99, reason: "HTTP 500" }, { jobId: `dlv-${failed.id}-99`, attempts: 1 });
    const job = await eventually(
      async () => ((await queue.getJob(`dlv-${failed.id}-99`))?.failedReason ? queue.getJob(`dlv-${failed.id}-99`) : undefined),
      15_000,
      "parked",
    );
    expect(job).toMatchObject({ name: "deliver", data: { parked: true }, failedReason: "HTTP 500" });
    healthy = true;
    const before = sub.received.length;
    expect((await request(ctx.app).post(`/admin/queues/webhook-deliveries/jobs/${job!.id}/retry`).set(auth)).status).toBe(200);
    await eventually(async () => sub.received.length === before + 1, 15_000, "sent again");
  });

  it("replaying a processed webhook emits nothing new; listing shows stored deliveries by status", async () => {
    const res = await postFlovi(ctx.app, statusChange("created", `adm-replay-${randomUUID().slice(0, 8)}`));
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed", 10_000, "processed");
    const events = await ctx.prisma.event.count();
    const replay = await request(ctx.app).post(`/admin/webhooks/${res.body.id}/replay`).set(auth);
    expect(replay.body).toMatchObject({ kind: "replayed", result: "already_done", events: [] });
    expect(await ctx.prisma.event.count()).toBe(events);

    const rejected = await postFlovi(ctx.app, statusChange("teleported", "adm-bad"));
    const replayRejected = await request(ctx.app).post(`/admin/webhooks/${rejected.body.id}/replay`).set(auth);
    expect(replayRejected.body).toMatchObject({ result: "rejected", reason: "unknown_state" });
    expect(await ctx.prisma.event.count()).toBe(events);

    const list = await request(ctx.app).get("/admin/webhooks?status=rejected").set(auth);
    expect(list.body.data.map((d: { id: string }) => d.id)).toContain(rejected.body.id);
    expect(list.body.data[0]).not.toHaveProperty("rawBody");
    const rows = await request(ctx.app).get("/admin/audit").set(auth);
    expect(rows.body.data.filter((r: { action: string }) => r.action === "webhook.replay")).toHaveLength(2);
    expect(rows.body.data[0]).toMatchObject({ actor: "admin", target: expect.any(String) });

    // Pages: a full page says where the next one starts; the pages together are the whole list, once each.
    const all = (await request(ctx.app).get("/admin/webhooks?limit=100").set(auth)).body.data.map((d: { id: string }) => d.id);
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = await request(ctx.app).get("/admin/webhooks?limit=1").set(auth);
    expect(first.body.nextBefore).toEqual(expect.any(String));
    const second = await request(ctx.app)
      .get(`/admin/webhooks?limit=1&before=${encodeURIComponent(first.body.nextBefore)}`)
      .set(auth);
    expect([...first.body.data, ...second.body.data].map((d: { id: string }) => d.id)).toEqual(all.slice(0, 2));
    const auditFirst = await request(ctx.app).get("/admin/audit?limit=1").set(auth);
    expect(auditFirst.body.nextStart).toBe(1);
    const auditSecond = await request(ctx.app).get("/admin/audit?limit=1&start=1").set(auth);
    expect(auditSecond.body.data[0].id).toBe(rows.body.data[1].id);
  });

  it("a webhook stored while processing was broken is replayed once the cause is fixed", async () => {
    // A failed delivery (retries exhausted) is marked failed; the replay applies it.
    const res = await postFlovi(ctx.app, statusChange("created", "adm-failed-one"));
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed", 10_000, "processed");
    const other = await ctx.prisma.inboundDelivery.create({
      data: {
        provider: "flovi",
        bodyDigest: randomUUID(),
        rawBody: Buffer.from(JSON.stringify(statusChange("taken", "adm-failed-one"))),
        headers: {},
        status: "failed",
        statusReason: "database was down",
      },
    });
    const replay = await request(ctx.app).post(`/admin/webhooks/${other.id}/replay`).set(auth);
    expect(replay.body).toMatchObject({ result: "applied", outcome: "applied" });
    expect(replay.body.events).toHaveLength(1);
    expect((await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "adm-failed-one" } })).state).toBe("taken");
    const again = await request(ctx.app).post(`/admin/webhooks/${other.id}/replay`).set(auth);
    expect(again.body).toMatchObject({ result: "already_done", events: [] });
  });
});

describe("metrics", () => {
  it("expose HTTP, queue depth, webhook, job and delivery series", async () => {
    const text = (await request(ctx.app).get("/metrics")).text;
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/webhooks\/flovi",status="202"\} \d+/);
    expect(text).toMatch(/http_request_duration_seconds_bucket/);
    expect(text).toMatch(/queue_jobs\{queue="webhook-deliveries",state="completed"\} \d+/);
    expect(text).toMatch(/webhooks_received_total\{provider="flovi",outcome="accepted"/);
    expect(text).toContain("job_duration_seconds_bucket");
  });
});
