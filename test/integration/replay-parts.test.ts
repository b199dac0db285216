// A replay's deliveries are written in parts as they come due (db/replays.ts feedReplay, delivery/replay-
// feeder.ts), not all when it is asked for. Real Postgres; the database-level tests run no worker and pass the
// time in (`now`), so what a part holds and when each delivery comes due is exact; the last test runs the real
// worker and a verifying subscriber.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { relayBatch, writeEvents } from "../../src/db/outbox.js";
import { feedReplay, REPLAY_PARTS } from "../../src/db/replays.js";
import { withTransaction } from "../../src/db/sql.js";
import { replayStatus, requestReplay } from "../../src/services/replays.js";
import { closedAfterAll, eventually, type TestContext } from "../helpers/context.js";
import { rentalConfirmed } from "../helpers/events.js";
import { postSubscription, startSubscriber } from "../helpers/subscriber.js";

const { context, later } = closedAfterAll();

/**
 * `perSubject` rental events for each of `subjects` bookings, interleaved (booking 0 seq 1, booking 1 seq 1, …),
 * written and positioned in the log; returns them in log order.
 */
async function logOf(ctx: TestContext, subjects: number, perSubject: number) {
  const run = randomUUID().slice(0, 6);
  const since = new Date(Date.now() - 1_000);
  for (let seq = 1; seq <= perSubject; seq++)
    await withTransaction(ctx.db, (sql) =>
      writeEvents(
        sql,
        Array.from({ length: subjects }, (_, i) => rentalConfirmed(`rp-${run}-${i}`, seq, `rp-${run}-${i}-${seq}`)),
      ),
    );
  while ((await relayBatch(ctx.db, 500)).relayed > 0);
  const log = await ctx.prisma.event.findMany({
    where: { entityId: { startsWith: `rp-${run}-` } },
    orderBy: { position: "asc" },
    select: { id: true, subject: true, position: true },
  });
  return { since, until: new Date(Date.now() + 1_000), log };
}

/** A subscription to `rental.*` written directly, after the events (so it has no first deliveries of them). */
async function lane(ctx: TestContext, ordered: boolean): Promise<string> {
  const id = randomUUID();
  await ctx.pool.query(`INSERT INTO subscriptions (id, url, event_types, secret, ordering, updated_at) VALUES ($1, $2, '{rental.*}', 'whsec_x', $3, now())`, [
    id,
    `http://127.0.0.1:9/${id}`,
    ordered ? "subject" : "none",
  ]);
  return id;
}

const rowsOf = async (ctx: TestContext, replayId: string) =>
  (
    await ctx.pool.query<{ event_id: string; subject: string | null; status: string; due: Date; position: string }>(
      "SELECT event_id, subject, status, next_attempt_at AS due, position FROM webhook_deliveries WHERE replay_id = $1 ORDER BY position",
      [replayId],
    )
  ).rows;

const replayRow = async (ctx: TestContext, replayId: string) =>
  (
    await ctx.pool.query<{ written: number; next_position: string | null; next_due_at: Date | null }>(
      "SELECT written, next_position, next_due_at FROM replays WHERE id = $1",
      [replayId],
    )
  ).rows[0]!;

const deps = (ctx: TestContext, ratePerSecond: number) => ({ db: ctx.db, log: ctx.log, retentionMs: 86_400_000, ratePerSecond });

describe("a replay written in parts", () => {
  it("the request writes the first part; each next part continues the pace and the log order, and the last one ends it", async () => {
    const ctx = await context();
    const { since, until, log } = await logOf(ctx, 3, 4);
    const id = await lane(ctx, false);
    // 1 a second: a part is what comes due within 5 s, 5 deliveries.
    const made = await requestReplay(deps(ctx, 1), "test", id, { since, until });
    expect(made).toMatchObject({ kind: "replaying", events: 12 });
    const replayId = made.kind === "replaying" ? made.id : "";
    expect((await rowsOf(ctx, replayId)).map((r) => r.event_id)).toEqual(log.slice(0, 5).map((e) => e.id));
    expect(await replayStatus(ctx.db, id, replayId)).toMatchObject({ events: 12, written: 5, done: false });

    const first = await replayRow(ctx, replayId);
    // Nothing more is due within 5 s of when the first part was written ...
    expect(await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now: new Date(first.next_due_at!.getTime() - 5_001) }))).toBeNull();
    // ... a second later the next part is.
    const at = new Date(first.next_due_at!.getTime() - 4_000);
    const second = await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now: at }));
    expect(second).toEqual({ replayId, subscriptionId: id, written: 5, finished: false });
    const third = await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now: new Date(at.getTime() + 5_000) }));
    expect(third).toEqual({ replayId, subscriptionId: id, written: 2, finished: true });

    const rows = await rowsOf(ctx, replayId);
    expect(rows.map((r) => r.event_id)).toEqual(log.map((e) => e.id));
    // One second apart from the first to the last, across the parts.
    const due = rows.map((r) => r.due.getTime());
    expect(due.slice(1).map((t, i) => t - due[i]!)).toEqual(Array(11).fill(1_000));
    expect(await replayRow(ctx, replayId)).toMatchObject({ written: 12, next_position: null });
    expect(await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now: new Date(at.getTime() + 60_000) }))).toBeNull();
  });

  it("at a pace above 4 a second deliveries come due in batches of 250 ms of pace: 8 a second, two at a time", async () => {
    const ctx = await context();
    const { since, until, log } = await logOf(ctx, 2, 5);
    const id = await lane(ctx, false);
    const made = await requestReplay(deps(ctx, 8), "test", id, { since, until });
    const rows = await rowsOf(ctx, made.kind === "replaying" ? made.id : "");
    expect(rows.map((r) => r.event_id)).toEqual(log.map((e) => e.id));
    const first = rows[0]!.due.getTime();
    expect(rows.map((r) => r.due.getTime() - first)).toEqual([0, 0, 250, 250, 500, 500, 750, 750, 1_000, 1_000]);
  });

  it("a feeder that fell behind starts the next part from now, not in the past (no burst); maxRows bounds a part", async () => {
    const ctx = await context();
    const { since, until, log } = await logOf(ctx, 2, 5);
    const id = await lane(ctx, false);
    const made = await requestReplay(deps(ctx, 1), "test", id, { since, until });
    const replayId = made.kind === "replaying" ? made.id : "";
    const late = new Date((await replayRow(ctx, replayId)).next_due_at!.getTime() + 60_000);
    const part = await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, maxRows: 3, now: late }));
    expect(part).toMatchObject({ written: 3, finished: false });
    const rows = await rowsOf(ctx, replayId);
    expect(rows.map((r) => r.event_id)).toEqual(log.slice(0, 8).map((e) => e.id));
    expect(rows.slice(5).map((r) => r.due.getTime())).toEqual([0, 1, 2].map((k) => late.getTime() + k * 1_000));
  });

  it("in ordered mode a subject's next event stays held across parts while one of its deliveries is unfinished", async () => {
    const ctx = await context();
    const { since, until, log } = await logOf(ctx, 2, 4);
    const id = await lane(ctx, true);
    const made = await requestReplay(deps(ctx, 1), "test", id, { since, until });
    const replayId = made.kind === "replaying" ? made.id : "";
    let now = (await replayRow(ctx, replayId)).next_due_at!;
    for (let part = await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now })); part; ) {
      now = new Date(now.getTime() + 5_000);
      part = await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now }));
    }
    const rows = await rowsOf(ctx, replayId);
    expect(rows.map((r) => r.event_id)).toEqual(log.map((e) => e.id));
    // One pending per subject (its first), every later one held: released one by one as each is delivered.
    for (const subject of new Set(log.map((e) => e.subject))) {
      expect(rows.filter((r) => r.subject === subject).map((r) => r.status)).toEqual(["pending", "held", "held", "held"]);
    }
  });

  it("a subscription deleted during a replay ends it: nothing more is written, and it counts as done", async () => {
    const ctx = await context();
    const { since, until } = await logOf(ctx, 2, 5);
    const id = await lane(ctx, false);
    const made = await requestReplay(deps(ctx, 1), "test", id, { since, until });
    const replayId = made.kind === "replaying" ? made.id : "";
    await ctx.pool.query("UPDATE webhook_deliveries SET status = 'cancelled' WHERE replay_id = $1", [replayId]);
    await ctx.pool.query("UPDATE subscriptions SET deleted_at = now() WHERE id = $1", [id]);
    const part = await withTransaction(ctx.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now: new Date(Date.now() + 60_000) }));
    expect(part).toEqual({ replayId, subscriptionId: id, written: 0, finished: true });
    expect(await replayStatus(ctx.db, id, replayId)).toMatchObject({ events: 10, written: 5, done: true });
  });

  it("the worker's feeder writes the rest as it comes due: every event arrives, in log order, with hub-replay", async () => {
    const ctx = await context();
    await ctx.startWorker();
    const sub = later(await startSubscriber());
    const { since, until, log } = await logOf(ctx, 3, 10);
    const made = await postSubscription(ctx.app, sub, { eventTypes: ["rental.*"], maxInFlight: 1 });
    sub.secrets.push(made.body.secret);
    const result = await requestReplay(deps(ctx, 4), "test", made.body.id, { since, until });
    expect(result).toMatchObject({ kind: "replaying", events: 30 });
    const replayId = result.kind === "replaying" ? result.id : "";
    // At 4 a second the request wrote 20 (5 s of pace); the other 10 only the worker's feeder writes.
    const got = await eventually(
      async () => {
        const r = sub.received.filter((x) => x.replay === replayId);
        return r.length >= 30 ? r : undefined;
      },
      30_000,
      "the whole replay",
    );
    expect(got.map((r) => r.webhookId)).toEqual(log.map((e) => e.id));
    await ctx.settled();
    expect(await replayStatus(ctx.db, made.body.id, replayId)).toMatchObject({ events: 30, written: 30, deliveries: { succeeded: 30 }, done: true });
  });
});
