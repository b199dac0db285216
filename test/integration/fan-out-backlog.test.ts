// The fan-out backlog (db/fan-out.ts INLINE_FAN_OUT, db/fan-out-backlog.ts): an event taken by more
// subscriptions than its writer writes at once leaves the rest to the relay. Real Postgres and Redis, the
// worker and a verifying subscriber on loopback; assertions on rows and arrivals, never on time.
import { randomUUID } from "node:crypto";
import pino from "pino";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { fanOutBacklogBatch, MARKERS_PER_BATCH } from "../../src/db/fan-out-backlog.js";
import { INLINE_FAN_OUT } from "../../src/db/fan-out.js";
import { writeEvents } from "../../src/db/outbox.js";
import { pipelineGauges } from "../../src/db/pipeline-gauges.js";
import { writeReportPlan } from "../../src/db/reservation-writes.js";
import { withTransaction } from "../../src/db/sql.js";
import { createRelay } from "../../src/delivery/relay.js";
import { createEvent } from "../../src/domain/event-catalog.js";
import type { Clock } from "../../src/lib/clock.js";
import { closedAfterAll, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { reservationCreated } from "../helpers/events.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { manualClock } from "../helpers/manual-clock.js";
import { explainedDatabase } from "../helpers/plans.js";
import { startSubscriber } from "../helpers/subscriber.js";

const { context, later } = closedAfterAll();

/** A subscription to `reservation.*` written directly (these tests run no worker that would send to it), at `origin`. */
async function lane(ctx: TestContext, ordered = false, origin = "http://127.0.0.1:9"): Promise<string> {
  const id = randomUUID();
  await ctx.pool.query(
    `INSERT INTO subscriptions (id, url, event_types, secret, ordering, updated_at) VALUES ($1, $2, '{reservation.*}', 'whsec_x', $3, now())`,
    [id, `${origin}/${id}`, ordered ? "subject" : "none"],
  );
  return id;
}

/** A room no test reaches: the backlog writes everything. */
const ROOM = 100_000;

const deliveriesPerLane = async (ctx: TestContext, eventId: string) =>
  (
    await ctx.pool.query<{ subscription_id: string; n: number }>(
      "SELECT subscription_id, count(*)::int AS n FROM webhook_deliveries WHERE event_id = $1 GROUP BY subscription_id",
      [eventId],
    )
  ).rows;
const backlogRows = async (ctx: TestContext) => (await ctx.pool.query<{ event_id: string }>("SELECT event_id FROM fan_out_backlog")).rows;

/** Writes one new event of a new reservation through the Flovi inbox's statement (no leases); answers its id. */
async function writeEvent(ctx: TestContext): Promise<string> {
  const entityId = randomUUID();
  const envelope = createEvent(reservationCreated(entityId, `backlog:${entityId}`, new Date()), randomUUID());
  const plan = { reservations: [], transitions: [], inbound: [], events: [{ envelope, dedupeKey: entityId, requestId: null }] };
  await withTransaction(ctx.db, (sql) => writeReportPlan(sql, plan));
  return envelope.id;
}

/** A relay that notes which lanes it told of new deliveries. */
function relayTelling(ctx: TestContext, backlogRoom: number, clock?: Clock) {
  const told = new Set<string>();
  const relay = createRelay({
    db: ctx.db,
    log: pino({ level: "silent" }),
    onDeliveries: (ids) => {
      for (const id of ids) told.add(id);
    },
    backlogRoom,
    clock,
  });
  return { relay, told };
}

/** The lanes' pending deliveries delivered, as a worker would have. */
const delivered = (ctx: TestContext, lanes: string[]) =>
  ctx.pool.query("UPDATE webhook_deliveries SET status = 'succeeded' WHERE subscription_id = ANY($1) AND status = 'pending'", [lanes]);

describe("an event taken by more than INLINE_FAN_OUT subscriptions", () => {
  it("the writer writes the ordered and the offered deliveries; the backlog step writes each other one once, to subscriptions that existed", async () => {
    const ctx = await context();
    const unordered: string[] = [];
    for (let i = 0; i < INLINE_FAN_OUT + 6; i++) unordered.push(await lane(ctx));
    const ordered = await lane(ctx, true);
    const offered = unordered[0]!;

    const now = new Date();
    const entityId = randomUUID();
    const envelope = createEvent(reservationCreated(entityId, `backlog:${entityId}`, now), randomUUID());
    const plan = { reservations: [], transitions: [], inbound: [], events: [{ envelope, dedupeKey: entityId, requestId: null }] };
    const lease = { lanes: [{ subscriptionId: offered, want: 1 }], leaseToken: randomUUID(), settings: { leaseMs: 10_000, circuitAfterFailures: 5, now } };
    const written = await withTransaction(ctx.db, (sql) => writeReportPlan(sql, plan, lease));

    // In the writer's transaction: the offered lane's delivery (leased, to start on commit) and the ordered one.
    expect(written.deferred).toBe(1);
    expect(written.deliveries.map((d) => d.subscriptionId).sort()).toEqual([offered, ordered].sort());
    expect(written.deliveries.find((d) => d.subscriptionId === offered)!.leased).toBeDefined();
    expect(await backlogRows(ctx)).toEqual([{ event_id: envelope.id }]);
    // The gauge the stalled-relay alert watches counts an unfinished fan-out as an event not done.
    // (A second more than asserted: created_at is kept to the millisecond, rounded, and may read up to half a
    // millisecond younger than written when the gauge's query follows at once, as it did once through PgBouncer.)
    await ctx.pool.query("UPDATE fan_out_backlog SET created_at = now() - interval '91 seconds'");
    expect((await pipelineGauges(ctx.db, 600, ROOM)).outboxOldestUnrelayedSeconds).toBeGreaterThanOrEqual(90);

    // A subscription created after the event was written does not get it from the backlog.
    const late = await lane(ctx);
    const step = await fanOutBacklogBatch(ctx.db, 4, ROOM);
    expect(step).toMatchObject({ rows: 1, deliveries: unordered.length - 1, paced: [] });
    expect([...step.lanes].sort()).toEqual(unordered.slice(1).sort());

    const perLane = await deliveriesPerLane(ctx, envelope.id);
    expect(perLane.map((r) => r.subscription_id).sort()).toEqual([...unordered, ordered].sort());
    expect(perLane.every((r) => r.n === 1)).toBe(true);
    expect(perLane.some((r) => r.subscription_id === late)).toBe(false);
    expect(await backlogRows(ctx)).toEqual([]);
    expect(await fanOutBacklogBatch(ctx.db, 4, ROOM)).toMatchObject({ rows: 0, deliveries: 0, paced: [] });
    expect((await pipelineGauges(ctx.db, 600, ROOM)).outboxOldestUnrelayedSeconds).toBeLessThan(90);
  });

  it("an event relayed from the outbox leaves the rest to the backlog too, and the same relay run writes it", async () => {
    const ctx = await context();
    const lanes: string[] = [];
    for (let i = 0; i < INLINE_FAN_OUT + 3; i++) lanes.push(await lane(ctx));
    const entityId = randomUUID();
    const [event] = await withTransaction(ctx.db, (sql) => writeEvents(sql, [reservationCreated(entityId, `backlog-relay:${entityId}`, new Date())]));

    const { relay, told } = relayTelling(ctx, ROOM);
    expect(await relay.run()).toBe(1);

    const perLane = await deliveriesPerLane(ctx, event!.id);
    expect(perLane.map((r) => r.subscription_id).sort()).toEqual([...lanes].sort());
    expect(perLane.every((r) => r.n === 1)).toBe(true);
    // The pump is told of every lane with new work, so it claims them.
    expect([...told].sort()).toEqual([...lanes].sort());
    expect(await backlogRows(ctx)).toEqual([]);
  });

  it("a Flovi webhook taken by 70 subscriptions reaches every one of them once, with the relay's sweep far away", async () => {
    // The scheduled relay runs once an hour here: only the drain's nudge can have written the backlog.
    const ctx = await context({ OUTBOX_SWEEP_INTERVAL_MS: "3600000" });
    await ctx.startWorker();
    const subscriber = await startSubscriber();
    later(subscriber);
    const count = INLINE_FAN_OUT + 6;
    for (let i = 0; i < count; i++) {
      const res = await request(ctx.app)
        .post("/subscriptions")
        .set({ authorization: `Bearer ${TEST_ADMIN_TOKEN}` })
        .send({ url: `${subscriber.url}/team-${i}`, eventTypes: ["reservation.*"] });
      expect(res.status).toBe(201);
      subscriber.secrets.push(res.body.secret);
    }
    const id = `backlog-${randomUUID().slice(0, 8)}`;
    expect((await postFlovi(ctx.app, statusChange("created", id))).status).toBe(202);
    await eventually(async () => subscriber.received.length >= count, 30_000, "the event at every subscription");
    // Once each: one event id, one webhook-id per subscription, no second attempt.
    expect(new Set(subscriber.received.map((r) => r.event.id)).size).toBe(1);
    expect(new Set(subscriber.received.map((r) => r.webhookId)).size).toBe(1);
    expect(subscriber.attempts).toHaveLength(count);
    expect(await backlogRows(ctx)).toEqual([]);
  }, 60_000);

  it("each destination's rows are written only while fewer than the room wait there: a crowded host keeps its rows, another host gets its deliveries", async () => {
    const ctx = await context();
    const crowd: string[] = [];
    const healthy: string[] = [];
    for (let i = 0; i < INLINE_FAN_OUT; i++) crowd.push(await lane(ctx, false, "http://127.0.0.1:9"));
    for (let i = 0; i < 8; i++) healthy.push(await lane(ctx, false, "http://127.0.0.1:10"));
    const room = INLINE_FAN_OUT; // the crowd's first event's deliveries fill it; the healthy host's do not

    const first = await writeEvent(ctx);
    const owed = async () =>
      (
        await ctx.pool.query<{ destination_key: string; owed: number }>(
          "SELECT destination_key, cardinality(subscription_ids) AS owed FROM fan_out_backlog WHERE event_id = $1 ORDER BY destination_key",
          [first],
        )
      ).rows;
    // The writer matched no one (none offered, none ordered): one marker row stands for every subscription.
    expect(await owed()).toEqual([{ destination_key: "", owed: 0 }]);
    // The relay matches it into one row per destination, each listing the subscriptions it owes (with no room
    // anywhere, none is written yet).
    expect(await fanOutBacklogBatch(ctx.db, 4, 0)).toMatchObject({ markers: 1, rows: 0, deliveries: 0, paced: ["http://127.0.0.1:10", "http://127.0.0.1:9"] });
    expect(await owed()).toEqual([
      { destination_key: "http://127.0.0.1:10", owed: 8 },
      { destination_key: "http://127.0.0.1:9", owed: INLINE_FAN_OUT },
    ]);
    expect(await fanOutBacklogBatch(ctx.db, 4, room)).toMatchObject({ markers: 0, rows: 2, deliveries: INLINE_FAN_OUT + 8, paced: [] });

    // The crowd has not taken its first event's deliveries; the healthy host has.
    await delivered(ctx, healthy);
    const second = await writeEvent(ctx);
    const step = await fanOutBacklogBatch(ctx.db, 4, room);
    expect(step).toMatchObject({ rows: 1, deliveries: 8, paced: ["http://127.0.0.1:9"] });
    expect([...step.lanes].sort()).toEqual([...healthy].sort());
    expect((await deliveriesPerLane(ctx, second)).map((r) => r.subscription_id).sort()).toEqual([...healthy].sort());
    expect((await backlogRows(ctx)).map((r) => r.event_id)).toEqual([second]);
    // A paced destination's rows are its lanes' backlog, not a stalled relay: the gauge leaves them out.
    await ctx.pool.query("UPDATE fan_out_backlog SET created_at = now() - interval '91 seconds'");
    expect((await pipelineGauges(ctx.db, 600, room)).outboxOldestUnrelayedSeconds).toBeLessThan(90);
    expect((await pipelineGauges(ctx.db, 600, ROOM)).outboxOldestUnrelayedSeconds).toBeGreaterThanOrEqual(90);

    // A disabled subscription's waiting deliveries wait for it to be enabled again: they do not hold back the
    // others at its host. With one of the crowd disabled, its host has room; the disabled one gets nothing.
    const [off, ...active] = crowd;
    await ctx.pool.query("UPDATE subscriptions SET status = 'disabled' WHERE id = $1", [off]);
    expect(await fanOutBacklogBatch(ctx.db, 4, room)).toMatchObject({ rows: 1, deliveries: INLINE_FAN_OUT - 1, paced: [] });
    expect((await deliveriesPerLane(ctx, second)).map((r) => r.subscription_id).sort()).toEqual([...active, ...healthy].sort());
    expect(await backlogRows(ctx)).toEqual([]);
  });

  it("a destination gets the rows whose deliveries fit in its room, and always its oldest row", async () => {
    const ctx = await context();
    const host = "http://127.0.0.1:9";
    for (let i = 0; i < INLINE_FAN_OUT + 2; i++) await lane(ctx, false, host);
    const owed = INLINE_FAN_OUT + 2;
    const events: string[] = [];
    for (let i = 0; i < 4; i++) events.push(await writeEvent(ctx));
    // Room for a row and a half: the second row starts inside it, the third would not.
    expect(await fanOutBacklogBatch(ctx.db, 4, Math.round(owed * 1.5))).toMatchObject({ markers: 4, rows: 2, deliveries: 2 * owed, paced: [] });
    expect((await backlogRows(ctx)).map((r) => r.event_id).sort()).toEqual(events.slice(2).sort());
    // Once the waiting deliveries are taken, a room smaller than one row still gets the oldest row.
    await ctx.pool.query("UPDATE webhook_deliveries SET status = 'succeeded'");
    expect(await fanOutBacklogBatch(ctx.db, 4, 10)).toMatchObject({ rows: 1, deliveries: owed });
    expect((await backlogRows(ctx)).map((r) => r.event_id)).toEqual([events[3]]);
  });

  it("reads the subscription lists of the rows it takes, not of every row waiting (lists of 1,000, however many rows wait)", async () => {
    const ctx = await context();
    // One connection, whose statements' plans come back with the buffers they read.
    const { db, plansOf } = await explainedDatabase(ctx, { analyze: true });
    later({ close: () => db.close() });
    const done: string[] = [];
    /** Pages the backlog statement reads with `waiting` rows at a new destination, each listing 1,000 subscriptions (none of them exists). */
    const pagesRead = async (waiting: number) => {
      const key = `http://backlog-${done.length}.example`;
      const events = await withTransaction(ctx.db, (sql) =>
        writeEvents(
          sql,
          Array.from({ length: waiting }, () => reservationCreated(randomUUID(), `backlog-lists:${randomUUID()}`, new Date())),
        ),
      );
      await ctx.pool.query(
        `INSERT INTO fan_out_backlog (event_id, destination_key, position, created_at, subscription_ids)
         SELECT e.id, $2, e.n, now(), ARRAY(SELECT gen_random_uuid() FROM generate_series(1, 1000)) FROM unnest($1::uuid[]) WITH ORDINALITY AS e(id, n)`,
        [events.map((e) => e.id), key],
      );
      // Room for 2,048: the rows before each must owe less, so three rows of 1,000 are taken (and nothing written).
      const plans = await plansOf(async () => expect(await fanOutBacklogBatch(db, 16, 2048, done)).toMatchObject({ rows: 3, deliveries: 0 }));
      done.push(key);
      const plan = plans.find((p) => p.includes("WITH destinations AS")) ?? "";
      const [, hit, read] = plan.match(/Buffers: shared hit=(\d+)(?: read=(\d+))?/) ?? [];
      return Number(hit) + Number(read ?? 0);
    };
    const few = await pagesRead(20);
    const many = await pagesRead(400);
    // 380 more rows: a few more pages of the small rows, not 380 lists of 16 KB (several pages each).
    const morePages = many - few;
    expect(morePages).toBeLessThan(100);
  });

  it("one relay run matches every marker, more than one transaction's worth, even where no destination has room", async () => {
    const ctx = await context();
    for (let i = 0; i < INLINE_FAN_OUT + 1; i++) await lane(ctx);
    const events: string[] = [];
    for (let i = 0; i < MARKERS_PER_BATCH + 4; i++) events.push(await writeEvent(ctx));
    const markers = async () => (await ctx.pool.query("SELECT event_id FROM fan_out_backlog WHERE destination_key = ''")).rowCount;
    expect(await markers()).toBe(events.length);

    const { relay } = relayTelling(ctx, 0); // no room anywhere: nothing is written, everything is matched
    later({ close: async () => relay.stop() });
    await relay.run();
    expect(await markers()).toBe(0);
    const rows = await ctx.pool.query<{ event_id: string; owed: number }>("SELECT event_id, cardinality(subscription_ids) AS owed FROM fan_out_backlog");
    expect(rows.rows.map((r) => r.event_id).sort()).toEqual([...events].sort());
    expect(rows.rows.every((r) => r.owed === INLINE_FAN_OUT + 1)).toBe(true);
  });

  it("a subscription deleted or disabled while its row waited gets nothing; the relay looks again by itself while a destination has no room", async () => {
    const ctx = await context();
    const crowd: string[] = [];
    for (let i = 0; i < INLINE_FAN_OUT + 2; i++) crowd.push(await lane(ctx));
    const { relay, told } = relayTelling(ctx, crowd.length); // one event's deliveries fill the room
    later({ close: async () => relay.stop() });
    await writeEvent(ctx);
    await relay.run();
    expect(told.size).toBe(crowd.length);
    const second = await writeEvent(ctx);
    await relay.run();
    expect(await backlogRows(ctx)).toEqual([{ event_id: second }]);

    const [gone, off] = crowd;
    await ctx.pool.query("UPDATE subscriptions SET deleted_at = now() WHERE id = $1", [gone]);
    await ctx.pool.query("UPDATE subscriptions SET status = 'disabled' WHERE id = $1", [off]);
    // The crowd drains; nothing nudges the relay: its re-check finds the room.
    await delivered(ctx, crowd);
    await eventually(async () => (await backlogRows(ctx)).length === 0, 10_000, "the paced row written by the relay's re-check");
    const perLane = await deliveriesPerLane(ctx, second);
    expect(perLane.map((r) => r.subscription_id).sort()).toEqual(crowd.slice(2).sort());
  });
  it("a destination found without room is not counted again until the relay's re-check, which then writes its rows", async () => {
    const ctx = await context();
    const host = "http://127.0.0.1:9";
    const crowd: string[] = [];
    for (let i = 0; i < INLINE_FAN_OUT + 2; i++) crowd.push(await lane(ctx, false, host));
    const clock = manualClock();
    const { relay, told } = relayTelling(ctx, crowd.length, clock); // one event's deliveries fill the room
    later({ close: async () => relay.stop() });
    const first = await writeEvent(ctx);
    await relay.run();
    expect(told.size).toBe(crowd.length);
    const second = await writeEvent(ctx);
    await relay.run();
    expect((await backlogRows(ctx)).map((r) => r.event_id)).toEqual([second]);

    // The host drains. A run before the re-check (another webhook's markers) matches the new event into a
    // row for the host, but does not count the host's waiting deliveries again: both rows wait.
    await delivered(ctx, crowd);
    const third = await writeEvent(ctx);
    await relay.run();
    expect((await backlogRows(ctx)).map((r) => r.event_id).sort()).toEqual([second, third].sort());
    // The statement itself: a skipped destination is neither written nor reported without room.
    expect(await fanOutBacklogBatch(ctx.db, 4, crowd.length * 4, [host])).toMatchObject({ rows: 0, deliveries: 0, paced: [] });

    // The re-check counts it again: it has room for one event's deliveries, which are written; the next row
    // waits for room again.
    await clock.advance(500);
    await relay.idle();
    expect((await backlogRows(ctx)).map((r) => r.event_id)).toEqual([third]);
    for (const event of [first, second]) expect(await deliveriesPerLane(ctx, event)).toHaveLength(crowd.length);
  });
});
