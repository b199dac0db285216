// Replay by time (POST /subscriptions/:id/replay): a window's events delivered again to one subscription, in log
// order, with their own webhook-id and `hub-replay`, as deliveries of their own; narrowed by subject and type;
// refused past retention; audited; its progress readable. Through the real api, worker and verifying subscribers.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, redisEnvFor, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { runHub } from "../helpers/cli.js";
import { writeReportPlan } from "../../src/db/reservation-writes.js";
import { pruneBatch } from "../../src/db/retention.js";
import { withTransaction } from "../../src/db/sql.js";
import { createEvent } from "../../src/domain/event-catalog.js";
import { reservationCreated } from "../helpers/events.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { postSubscription, startSubscriber, type Subscriber } from "../helpers/subscriber.js";

let ctx: TestContext;
let sub: Subscriber;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
  sub = await startSubscriber();
});
afterAll(async () => {
  await sub.close();
  await ctx.close();
});

const admin = {
  get: (path: string) => request(ctx.app).get(path).set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`),
  post: (path: string, body: object) => request(ctx.app).post(path).set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`).send(body),
};

async function subscription(body: Record<string, unknown>): Promise<string> {
  const res = await postSubscription(ctx.app, sub, body);
  expect(res.status).toBe(201);
  sub.secrets.push(res.body.secret);
  return res.body.id as string;
}

/** Three reservations through three states each, written between `since` and `until`. */
async function window(run: string) {
  const since = new Date();
  const ids = [0, 1, 2].map((i) => `rp-${run}-${i}`);
  for (const state of ["created", "taken", "driving"]) for (const id of ids) expect((await postFlovi(ctx.app, statusChange(state, id))).status).toBe(202);
  await ctx.settled();
  const until = new Date();
  // Outside the window.
  expect((await postFlovi(ctx.app, statusChange("created", `rp-${run}-later`))).status).toBe(202);
  await ctx.settled();
  const log = await ctx.prisma.event.findMany({
    where: { entityId: { in: ids } },
    orderBy: { position: "asc" },
    select: { id: true, subject: true, type: true },
  });
  return { since, until, ids, log };
}

describe("POST /subscriptions/:id/replay", () => {
  it("delivers the window's events again, in log order, with their webhook-id and hub-replay, as deliveries of their own", async () => {
    const run = randomUUID().slice(0, 6);
    const id = await subscription({ eventTypes: ["reservation.*"], maxInFlight: 1 });
    const { since, until, log } = await window(run);
    expect(log).toHaveLength(9);
    const mine = () => sub.received.filter((r) => r.event.subject.startsWith(`reservation/rp-${run}`));
    expect(mine().filter((r) => !r.replay)).toHaveLength(10);

    const res = await admin.post(`/subscriptions/${id}/replay`, { since: since.toISOString(), until: until.toISOString() });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), events: 9 });
    const replayed = await eventually(async () => {
      const got = mine().filter((r) => r.replay === res.body.id);
      return got.length >= 9 ? got : undefined;
    });
    await ctx.settled();
    expect(mine().filter((r) => r.replay === res.body.id)).toHaveLength(9);
    // The same webhook-id (the event's id), one lane at a time: in the log's order.
    expect(replayed.map((r) => r.webhookId)).toEqual(log.map((e) => e.id));

    const progress = await admin.get(`/subscriptions/${id}/replays/${res.body.id}`);
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({ id: res.body.id, subscriptionId: id, events: 9, deliveries: { succeeded: 9 }, done: true, requestedBy: "admin" });

    // A second replay of the same window is not a conflict: it has deliveries of its own.
    const again = await admin.post(`/subscriptions/${id}/replay`, { since: since.toISOString(), until: until.toISOString() });
    expect(again.body.events).toBe(9);
    await eventually(async () => mine().filter((r) => r.replay === again.body.id).length >= 9);
    const rows = await ctx.prisma.webhookDelivery.groupBy({
      by: ["replayId"],
      where: { subscriptionId: id, event: { entityId: { startsWith: `rp-${run}-` } } },
      _count: true,
    });
    expect(rows.map((r) => r._count).sort((a, b) => a - b)).toEqual([9, 9, 10]);

    const audit = await ctx.prisma.auditLog.findFirst({ where: { action: "subscription.replay", target: id }, orderBy: { id: "asc" } });
    expect(audit?.details).toMatchObject({ replayId: res.body.id, events: 9, since: since.toISOString() });
  });

  it("counts an event written after `since` by a transaction that began before it (a pass already under way)", async () => {
    const id = await subscription({ eventTypes: ["reservation.*"] });
    const entityId = `rp-${randomUUID().slice(0, 6)}-early`;
    const envelope = createEvent(reservationCreated(entityId, `replay-early:${entityId}`, new Date()), randomUUID());
    const since = await withTransaction(ctx.db, async (sql) => {
      // wall clock: the transaction has begun well before the window's `since`, as a drain pass that began
      // just before the deliveries it then loads were stored (its `now()` is earlier than they are).
      await sql.query("SELECT pg_sleep(0.05)");
      const since = new Date();
      await writeReportPlan(sql, { reservations: [], transitions: [], inbound: [], events: [{ envelope, dedupeKey: entityId, requestId: null }] });
      return since;
    });
    const res = await admin.post(`/subscriptions/${id}/replay`, { since: since.toISOString(), subject: `reservation/${entityId}` });
    expect(res.status).toBe(202);
    expect(res.body.events).toBe(1);
  });

  it("narrows by subject and types; ordered mode releases a subject's events one by one, in sequence", async () => {
    const run = randomUUID().slice(0, 6);
    const id = await subscription({ eventTypes: ["reservation.*"], ordering: "subject" });
    const { since, ids, log } = await window(run);
    const subject = `reservation/${ids[1]}`;

    const narrow = await admin.post(`/subscriptions/${id}/replay`, {
      since: since.toISOString(),
      subject,
      types: ["reservation.taken", "reservation.driving"],
    });
    expect(narrow.body.events).toBe(2);
    const bySubject = await admin.post(`/subscriptions/${id}/replay`, { since: since.toISOString(), subject });
    expect(bySubject.body.events).toBe(3);
    const got = await eventually(async () => {
      const r = sub.received.filter((x) => x.replay === bySubject.body.id);
      return r.length >= 3 ? r : undefined;
    });
    expect(got.map((r) => r.event.data.sequence)).toEqual([1, 2, 3]);
    expect(got.map((r) => r.webhookId)).toEqual(log.filter((e) => e.subject === subject).map((e) => e.id));
    const narrowed = await eventually(async () => {
      const r = sub.received.filter((x) => x.replay === narrow.body.id);
      return r.length >= 2 ? r : undefined;
    });
    expect(narrowed.map((r) => r.event.type)).toEqual(["reservation.taken", "reservation.driving"]);
  });

  it("a window past retention, a bad window, an unknown type or replay: clear errors, nothing written", async () => {
    const id = await subscription({ eventTypes: ["rental.*"] });
    const before = await ctx.prisma.replay.count();
    const old = await admin.post(`/subscriptions/${id}/replay`, { since: new Date(Date.now() - 100 * 86_400_000).toISOString() });
    expect(old.status).toBe(400);
    expect(old.body.error).toBe("window_past_retention");
    expect(old.body.message).toMatch(/events are kept 90 days: since may be \S+ at the earliest/);
    expect(old.body.earliest).toEqual(expect.any(String));
    const backwards = await admin.post(`/subscriptions/${id}/replay`, { since: new Date().toISOString(), until: new Date(Date.now() - 1000).toISOString() });
    expect(backwards.status).toBe(400);
    expect(backwards.body.message).toContain("since must be before until");
    const typo = await admin.post(`/subscriptions/${id}/replay`, { since: new Date().toISOString(), types: ["reservation.create"] });
    expect(typo.status).toBe(400);
    expect((await admin.post(`/subscriptions/${id}/replay`, { since: "yesterday" })).status).toBe(400);
    expect((await admin.post(`/subscriptions/${id}/replay`, { since: new Date().toISOString(), extra: 1 })).status).toBe(400);
    expect((await admin.post(`/subscriptions/${randomUUID()}/replay`, { since: new Date().toISOString() })).status).toBe(404);
    expect((await admin.get(`/subscriptions/${id}/replays/${randomUUID()}`)).status).toBe(404);
    expect((await admin.get(`/subscriptions/${id}/replays/not-an-id`)).status).toBe(404);
    expect(await ctx.prisma.replay.count()).toBe(before);
  });

  it("a consumer replays its own subscriptions; another's is a 404", async () => {
    const made = await admin.post("/admin/consumers", { name: `rp-${randomUUID().slice(0, 6)}`, eventTypes: ["reservation.*"] });
    const token = made.body.token as string;
    const own = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", `Bearer ${token}`)
      .send({ url: `${sub.url}/consumer-${randomUUID().slice(0, 6)}`, eventTypes: ["reservation.*"] });
    expect(own.status).toBe(201);
    sub.secrets.push(own.body.secret);
    const since = new Date(Date.now() - 60_000).toISOString();
    const mine = await request(ctx.app).post(`/subscriptions/${own.body.id}/replay`).set("authorization", `Bearer ${token}`).send({ since });
    expect(mine.status).toBe(202);
    expect((await request(ctx.app).get(`/subscriptions/${own.body.id}/replays/${mine.body.id}`).set("authorization", `Bearer ${token}`)).status).toBe(200);
    const operators = await subscription({ eventTypes: ["reservation.*"] });
    expect((await request(ctx.app).post(`/subscriptions/${operators}/replay`).set("authorization", `Bearer ${token}`).send({ since })).status).toBe(404);
  });

  it("the CLI replays a window and shows its progress", { timeout: 60_000 }, async () => {
    const run = randomUUID().slice(0, 6);
    const id = await subscription({ eventTypes: ["reservation.*"] });
    const { since, until } = await window(run);
    const env = { ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX };
    const made = await runHub(
      env,
      "subscriptions",
      "replay",
      id,
      "--since",
      since.toISOString(),
      "--until",
      until.toISOString(),
      "--events",
      "reservation.created",
      "--json",
    );
    expect(made.code, made.stderr).toBe(0);
    const replay = JSON.parse(made.stdout) as { id: string; events: number };
    expect(replay.events).toBe(3);
    await eventually(async () => sub.received.filter((r) => r.replay === replay.id).length >= 3);
    await ctx.settled();
    const shown = await runHub(env, "subscriptions", "replay", id, replay.id);
    expect(shown.stdout).toMatch(/events: +3/);
    expect(shown.stdout).toMatch(/3 succeeded/);
    const audit = await ctx.prisma.auditLog.findFirst({ where: { action: "subscription.replay", target: id } });
    expect(audit?.actor).toMatch(/^cli:/);
    const bad = await runHub(env, "subscriptions", "replay", id, "--since", "last week");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--since");
  });

  it("the console's form replays a window (UTC) and the page lists the replay with its progress", async () => {
    const run = randomUUID().slice(0, 6);
    const id = await subscription({ eventTypes: ["reservation.*"] });
    const { since, ids } = await window(run);
    const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
    const pageOf = () => request(ctx.app).get(`/admin/console/subscriptions/${id}`).set("authorization", basic);
    const first = await pageOf();
    expect(first.text).toContain(`action="/admin/console/subscriptions/${id}/replay"`);
    const cookie = String(first.headers["set-cookie"]).split(";")[0]!;
    const token = /<meta name="console-token" content="([^"]+)">/.exec(first.text)?.[1];
    const post = (body: Record<string, string>) =>
      request(ctx.app)
        .post(`/admin/console/subscriptions/${id}/replay`)
        .set("authorization", basic)
        .set("cookie", cookie)
        .type("form")
        .send({ _csrf: token!, back: `/admin/console/subscriptions/${id}`, ...body });
    const notice = (r: { headers: Record<string, string> }) => new URL(r.headers.location!, "http://console").searchParams.get("notice");
    // A minute before the window, as the form sends it: no offset, read as UTC.
    const from = new Date(since.getTime() - 60_000).toISOString().slice(0, 16);
    const made = notice(await post({ since: from, until: "", subject: `reservation/${ids[0]}`, types: "reservation.created, reservation.taken" }));
    expect(made).toMatch(/^replay (\S+) started: 2 event\(s\) to be delivered again$/);
    const replayId = /^replay (\S+)/.exec(made!)![1]!;
    await eventually(async () => sub.received.filter((r) => r.replay === replayId).length >= 2);
    await ctx.settled();
    const page = await pageOf();
    expect(page.text).toContain(`data-replay="${replayId}"`);
    expect(page.text).toMatch(/status-succeeded">succeeded<\/span> 2/);
    expect(notice(await post({ since: "", types: "" }))).toMatch(/^not replayed: since/);
    expect(notice(await post({ since: "2020-01-01T00:00" }))).toMatch(/^events are kept 90 days/);
    const audit = await ctx.prisma.auditLog.findFirst({ where: { action: "subscription.replay", target: id } });
    expect(audit?.actor).toBe("admin (console)");
  });

  it("a replay older than the events' retention goes with its last delivery, not before", async () => {
    const id = await subscription({ eventTypes: ["rental.*"] });
    const since = new Date(Date.now() - 60_000).toISOString();
    const kept = (await admin.post(`/subscriptions/${id}/replay`, { since })).body.id as string;
    const old = (await admin.post(`/subscriptions/${id}/replay`, { since })).body.id as string;
    const aged = new Date(Date.now() - 100 * 86_400_000);
    await ctx.prisma.replay.updateMany({ where: { id: { in: [kept, old] } }, data: { createdAt: aged } });
    // `kept` still has a delivery (of an event the test writes for it).
    const event = await ctx.prisma.event.create({
      data: {
        id: randomUUID(),
        source: "greenflow",
        type: "rental.reserved",
        subject: "rental/rp-prune",
        entity: "rental",
        entityId: `rp-prune-${randomUUID().slice(0, 6)}`,
        sequence: 1,
        time: new Date(),
        dedupeKey: `rp-prune-${randomUUID()}`,
        envelope: {},
      },
    });
    await ctx.prisma.webhookDelivery.create({ data: { id: randomUUID(), eventId: event.id, subscriptionId: id, replayId: kept, status: "succeeded" } });
    const cutoff = new Date(Date.now() - 90 * 86_400_000);
    await pruneBatch(ctx.db, "events", cutoff, 100);
    expect((await ctx.prisma.replay.findMany({ where: { id: { in: [kept, old] } }, select: { id: true } })).map((r) => r.id)).toEqual([kept]);
  });
});
