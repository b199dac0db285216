// One test per retention rule, on real Postgres: the clock is moved by setting timestamps back, never by waiting.
import { randomUUID } from "node:crypto";
import pg from "pg";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneAll, retentionSettings } from "../../src/maintenance/prune.js";
import { createTestContext, directDatabaseUrl, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const DAY = 86_400_000;
let ctx: TestContext;
let sub: Subscriber;
let subscriptionId: string;

beforeAll(async () => {
  ctx = await createTestContext({ RETENTION_PRUNE_INTERVAL_MS: "0", DELIVERY_RETRY_SCHEDULE: "0" });
  await ctx.startWorker();
  sub = await startSubscriber();
  subscriptionId = (await subscribe(ctx.app, sub, ["reservation.*"])).id;
});
afterAll(async () => {
  await ctx.close();
  await sub.close();
});

const prune = (batchSize = 1000) => pruneAll({ db: ctx.db, log: ctx.log, metrics: ctx.metrics }, retentionSettings(ctx.config), { batchSize });
const sql = (text: string, ...params: unknown[]) => ctx.prisma.$executeRawUnsafe(text, ...params);
const ago = (days: number) => new Date(Date.now() - days * DAY);

/** A reservation event delivered to the subscriber; returns its inbound delivery, event and webhook delivery ids. */
async function delivered(reservationId: string) {
  const res = await postFlovi(ctx.app, statusChange("created", reservationId));
  const event = await eventually(() => ctx.prisma.event.findFirst({ where: { entityId: reservationId } }), 10_000, "event");
  const delivery = await eventually(
    async () => {
      const d = await ctx.prisma.webhookDelivery.findFirst({ where: { eventId: event.id } });
      return d?.status === "succeeded" ? d : undefined;
    },
    10_000,
    "delivered",
  );
  return { inboundId: res.body.id as string, eventId: event.id, deliveryId: delivery.id, body: statusChange };
}

describe("retention", () => {
  it("raw bodies go after 30 days; the row, its digest and outcome stay, so a late redelivery is still a duplicate", async () => {
    const body = Buffer.from(JSON.stringify(statusChange("created", `ret-body-${randomUUID()}`)));
    const first = await postFlovi(ctx.app, body);
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: first.body.id } }))?.status === "processed", 10_000, "processed");
    const rejected = await postFlovi(ctx.app, Buffer.from('{"state":"created","reservationId":"x"')); // not JSON: kept for inspection
    await sql("UPDATE inbound_deliveries SET received_at = $1 WHERE id = ANY($2::uuid[])", ago(31), [first.body.id, rejected.body.id]);
    const result = await prune();
    expect(result.inbound_bodies.rows).toBeGreaterThanOrEqual(1);
    expect(result.inbound_bodies.bytes).toBeGreaterThanOrEqual(body.length);
    const row = await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: first.body.id } });
    expect(row.rawBody.length).toBe(0);
    expect(row.bodyPrunedAt).toBeInstanceOf(Date);
    expect(row.status).toBe("processed");
    expect((await ctx.prisma.inboundDelivery.findUniqueOrThrow({ where: { id: rejected.body.id } })).rawBody.length).toBeGreaterThan(0);
    const again = await postFlovi(ctx.app, body);
    expect(again.body).toEqual({ id: first.body.id, duplicate: true });
  });

  it("inbound rows go after 90 days, never one still waiting to be applied", async () => {
    const { inboundId } = await delivered(`ret-row-${randomUUID()}`);
    // The running worker would apply a waiting row (and so make it prunable) the moment a drain sweeps it.
    // Holding its reservation's lock, as an applying worker does, keeps it `received` for the whole test.
    const key = `ret-waiting-${randomUUID()}`;
    // A session of its own on Postgres itself (a session lock means nothing through a transaction pooler).
    const holder = new pg.Client({ connectionString: directDatabaseUrl(ctx.config.DATABASE_URL) });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended('reservation:' || $1, 0))", [key]);
      const [waiting] = await ctx.prisma.$queryRawUnsafe<{ id: string }[]>(
        `INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, status, ordering_key, received_at)
         VALUES (gen_random_uuid(), 'flovi', md5(random()::text), '\\x7b7d', '{}', 'received', $2, $1) RETURNING id`,
        ago(200),
        key,
      );
      await ctx.jobsCompleted("sweep-inbound", 2); // a drain has seen the waiting row and left it alone
      await sql("UPDATE inbound_deliveries SET received_at = $1 WHERE id = $2::uuid", ago(91), inboundId);
      await prune();
      expect(await ctx.prisma.inboundDelivery.findUnique({ where: { id: inboundId } })).toBeNull();
      expect(await ctx.prisma.inboundDelivery.findUnique({ where: { id: waiting!.id } })).toMatchObject({ status: "received" });
      await sql("DELETE FROM inbound_deliveries WHERE id = $1::uuid", waiting!.id);
    } finally {
      await holder.end();
    }
  });

  it("succeeded deliveries and their attempts go after 30 days; failed ones stay until 90 days", async () => {
    const ok = await delivered(`ret-ok-${randomUUID()}`);
    const failed = await delivered(`ret-failed-${randomUUID()}`);
    await sql("UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1::uuid", failed.deliveryId);
    await sql("UPDATE webhook_deliveries SET created_at = $1 WHERE id = ANY($2::uuid[])", ago(31), [ok.deliveryId, failed.deliveryId]);
    await prune();
    expect(await ctx.prisma.webhookDelivery.findUnique({ where: { id: ok.deliveryId } })).toBeNull();
    expect(await ctx.prisma.deliveryAttempt.count({ where: { webhookDeliveryId: ok.deliveryId } })).toBe(0);
    expect(await ctx.prisma.webhookDelivery.findUnique({ where: { id: failed.deliveryId } })).not.toBeNull();
    await sql("UPDATE webhook_deliveries SET created_at = $1 WHERE id = $2::uuid", ago(91), failed.deliveryId);
    await prune();
    expect(await ctx.prisma.webhookDelivery.findUnique({ where: { id: failed.deliveryId } })).toBeNull();
  });

  it("events go after 90 days once no delivery points at them; an older cursor is answered 410", async () => {
    const keptByDelivery = await delivered(`ret-ev-kept-${randomUUID()}`);
    const old = await delivered(`ret-ev-old-${randomUUID()}`);
    const position = (await ctx.prisma.event.findUniqueOrThrow({ where: { id: old.eventId } })).position!;
    await sql("UPDATE webhook_deliveries SET status = 'failed', created_at = now() WHERE id = $1::uuid", keptByDelivery.deliveryId);
    await sql("UPDATE events SET created_at = $1 WHERE id = ANY($2::uuid[])", ago(91), [keptByDelivery.eventId, old.eventId]);
    await sql("UPDATE webhook_deliveries SET created_at = $1 WHERE id = $2::uuid", ago(31), old.deliveryId);
    await prune();
    expect(await ctx.prisma.event.findUnique({ where: { id: old.eventId } })).toBeNull();
    expect(await ctx.prisma.event.findUnique({ where: { id: keptByDelivery.eventId } })).not.toBeNull();
    const expired = await request(ctx.app)
      .get(`/events?after=${(position - 1n).toString()}`)
      .set(auth);
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ error: "cursor_expired", message: expect.stringContaining("90 days") });
    expect((await request(ctx.app).get("/events").set(auth)).status).toBe(200);
    expect((await request(ctx.app).get(`/events?after=${position.toString()}`).set(auth)).status).toBe(200);
  });

  it("finished MFB orders and GreenFlow bookings go with their history after 180 days; active ones stay", async () => {
    const finished = randomUUID();
    const active = randomUUID();
    await ctx.prisma.mfbOrder.create({ data: { id: finished, active: false, stoppedReason: "delivered", stoppedAt: ago(181) } });
    await ctx.prisma.mfbTrackingEvent.create({ data: { orderId: finished, parcelIndex: 0, code: "delivered", happenedAt: ago(182), label: {} } });
    await ctx.prisma.mfbParcel.create({ data: { orderId: finished, parcelIndex: 0, status: "delivered", lastCode: "delivered", lastEventAt: ago(182) } });
    await ctx.prisma.mfbOrder.create({ data: { id: active, createdAt: ago(400) } });
    await ctx.prisma.greenflowBooking.create({
      data: { bookingCode: "BR-RET-1", lastname: "x", active: false, stoppedReason: "cancelled", stoppedAt: ago(181) },
    });
    await prune();
    expect(await ctx.prisma.mfbOrder.findUnique({ where: { id: finished } })).toBeNull();
    expect(await ctx.prisma.mfbTrackingEvent.count({ where: { orderId: finished } })).toBe(0);
    expect(await ctx.prisma.mfbOrder.findUnique({ where: { id: active } })).not.toBeNull();
    expect(await ctx.prisma.greenflowBooking.findUnique({ where: { bookingCode: "BR-RET-1" } })).toBeNull();
  });

  it("the audit log keeps a year; pruning works in small batches and counts rows and bytes", async () => {
    for (let i = 0; i < 5; i++) await ctx.prisma.auditLog.create({ data: { actor: "t", action: `old-${i}`, target: null, createdAt: ago(366) } });
    await ctx.prisma.auditLog.create({ data: { actor: "t", action: "recent", target: null } });
    const result = await prune(2); // 2 rows per batch: three batches for five rows
    expect(result.audit.rows).toBe(5);
    expect(await ctx.prisma.auditLog.count({ where: { action: { startsWith: "old-" } } })).toBe(0);
    expect(await ctx.prisma.auditLog.count({ where: { action: "recent" } })).toBe(1);
    const metrics = (await request(ctx.app).get("/metrics")).text;
    expect(metrics).toMatch(/retention_pruned_rows_total\{kind="audit"\} [1-9]/);
    const view = (await request(ctx.app).get("/admin/retention").set(auth)).body;
    expect(view.retentionDays).toMatchObject({ inbound_bodies: 30, events: 90, audit: 365 });
    expect(view.oldest.find((o: { name: string }) => o.name === "audit_log").oldest).toBeTruthy();
    expect(subscriptionId).toBeTruthy();
  });
});
