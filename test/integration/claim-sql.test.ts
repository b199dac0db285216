// The claim and the record, tested where they live: the `claim_deliveries` function and the attempts'
// record statement on a real Postgres, with the claim's clock passed in. No worker runs here (nothing else
// claims), and nothing waits on the wall clock: each case says what `now` is.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttemptRecord, type Handover, recordAttempts } from "../../src/db/delivery-attempts.js";
import { type ClaimResult, claimDeliveries, type ClaimSettings, type LaneRequest, lanesWithDueWork, laneStats } from "../../src/db/delivery-lanes.js";
import { writeEvents } from "../../src/db/outbox.js";
import { writeReportPlan } from "../../src/db/reservation-writes.js";
import { inOpenTransaction, onPool, type Sql, withTransaction } from "../../src/db/sql.js";
import { createEvent } from "../../src/domain/event-catalog.js";
import { createTestContext, type TestContext } from "../helpers/context.js";
import { reservationCreated } from "../helpers/events.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

const T = new Date("2026-12-03T12:00:00.000Z");
const at = (ms: number) => new Date(T.getTime() + ms);
const LEASE_MS = 10_000;
const settings = (now: Date, extra: Partial<ClaimSettings> = {}): ClaimSettings => ({
  leaseMs: LEASE_MS,
  circuitAfterFailures: 0,
  circuitProbeMs: 1_000,
  now,
  ...extra,
});

async function lane(opts: { maxInFlight?: number; rate?: number | null; ordered?: boolean; failures?: number } = {}): Promise<string> {
  const id = randomUUID();
  await ctx.pool.query(
    `INSERT INTO subscriptions (id, url, event_types, secret, max_in_flight, rate_limit_per_second, ordering, consecutive_failures, updated_at)
     VALUES ($1, $2, '{reservation.*}', 'whsec_x', $3, $4, $5, $6, now())`,
    [id, `http://127.0.0.1:9/${id}`, opts.maxInFlight ?? 64, opts.rate ?? null, opts.ordered ? "subject" : "none", opts.failures ?? 0],
  );
  return id;
}

let position = 0;
/** One delivery per subject given (an event each), due at T, in log order. */
async function deliveries(subscriptionId: string, subjects: (string | null)[], status: "pending" | "held" = "pending"): Promise<string[]> {
  const ids: string[] = [];
  for (const subject of subjects) {
    const entityId = randomUUID();
    const [event] = await withTransaction(ctx.db, (sql) => writeEvents(sql, [reservationCreated(entityId, `claim-sql:${entityId}`, T)]));
    const id = randomUUID();
    await ctx.pool.query(
      `INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7, now())`,
      [id, event!.id, subscriptionId, status, subject, ++position, T],
    );
    ids.push(id);
  }
  return ids;
}

/**
 * The function serves a lane asked for alone one statement at a time, and lanes asked for together with a few
 * statements for all of them: each case below runs both ways, the lane alone and beside an idle companion
 * (whose own row is left out of what the case sees).
 */
let companion: string | undefined;
const ask = (subscriptionId: string, want: number): LaneRequest[] =>
  companion
    ? [
        { subscriptionId, want },
        { subscriptionId: companion, want },
      ]
    : [{ subscriptionId, want }];
const own = (r: ClaimResult): ClaimResult => ({ lanes: r.lanes.filter((l) => l.subscriptionId !== companion), claimed: r.claimed });
const claim = async (subscriptionId: string, want: number, s: ClaimSettings, sql = onPool(ctx.db)) =>
  own(await claimDeliveries(sql, ask(subscriptionId, want), randomUUID(), s));
const claimedIds = (r: ClaimResult) => r.claimed.map((c) => c.webhookDeliveryId);

/**
 * A claim whose transaction stays open (its locks held) while `during` runs, committed after. The other
 * side gets a lock timeout: were it to wait for the open claim's locks, it would fail instead of answering.
 */
async function whileClaimOpen<T>(sub: string, want: number, now: Date, during: (first: ClaimResult) => Promise<T>): Promise<T> {
  const client = await ctx.pool.connect();
  try {
    await client.query("BEGIN");
    const first = own(await claimDeliveries(inOpenTransaction(ctx.db, client), ask(sub, want), randomUUID(), settings(now)));
    const result = await during(first);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

/** A transaction that fails rather than waits more than 2 s for a lock. */
const impatient = <T>(fn: (sql: Sql) => Promise<T>) =>
  withTransaction(ctx.db, async (sql) => {
    await sql.query("SET LOCAL lock_timeout = '2s'");
    return fn(sql);
  });

function record(c: ClaimResult["claimed"][number], status: "succeeded" | "pending" | "failed", attemptedAt: Date): AttemptRecord {
  return {
    webhookDeliveryId: c.webhookDeliveryId,
    subscriptionId: c.subscriptionId,
    leaseToken: c.leaseToken,
    attempt: c.attempts + 1,
    attemptedAt,
    durationMs: 1,
    statusCode: status === "succeeded" ? 204 : 500,
    error: null,
    excerpt: null,
    status,
    nextAttemptAt: status === "pending" ? attemptedAt : null,
    scheduleStep: c.scheduleStep + 1,
    throttled: false,
  };
}

describe.each(["alone", "beside another lane"])("a lane asked for %s", (mode) => {
  beforeAll(async () => {
    companion = mode === "alone" ? undefined : await lane();
  });
  afterAll(() => {
    companion = undefined;
  });

  describe("claim_deliveries: in-flight slots and leases", () => {
    it("leases no more than the lane's limit; a lease that ran out frees its slot and its delivery", async () => {
      const sub = await lane({ maxInFlight: 2 });
      const ids = await deliveries(sub, [null, null, null]);
      const first = await claim(sub, 10, settings(T));
      expect(claimedIds(first)).toEqual(ids.slice(0, 2));
      expect(first.lanes[0]!.room).toBe(2);
      // Both slots taken: nothing, however much is asked.
      expect((await claim(sub, 10, settings(at(LEASE_MS - 1)))).claimed).toEqual([]);
      // The process holding them died: at the lease's end both slots and both deliveries are free again.
      expect(claimedIds(await claim(sub, 10, settings(at(LEASE_MS))))).toEqual(ids.slice(0, 2));
    });

    it("a lane that took everything due is told when its next delivery comes due, no sooner than 50 ms on; nothing later: no time", async () => {
      const sub = await lane();
      const [now, soon, later] = await deliveries(sub, [null, null, null]);
      await ctx.pool.query("UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1", [soon, at(20)]);
      await ctx.pool.query("UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1", [later, at(2_000)]);
      const first = await claim(sub, 10, settings(T));
      expect(claimedIds(first)).toEqual([now]);
      expect(first.lanes[0]!.nextAt?.toISOString()).toBe(at(50).toISOString());
      const second = await claim(sub, 10, settings(at(50)));
      expect(claimedIds(second)).toEqual([soon]);
      expect(second.lanes[0]!.nextAt?.toISOString()).toBe(at(2_000).toISOString());
      const third = await claim(sub, 10, settings(at(2_000)));
      expect(claimedIds(third)).toEqual([later]);
      expect(third.lanes[0]!.nextAt).toBeNull();
    });

    it("a delivery written due now() in the claim's own transaction is due, whatever the sub-millisecond rounding", async () => {
      const sub = await lane();
      const [id] = await deliveries(sub, [null]);
      // Stored to the millisecond: now() = …00.0006 was written as …00.001, half a millisecond "later".
      await ctx.pool.query("UPDATE webhook_deliveries SET next_attempt_at = '2026-12-03T12:00:00.0006Z'::timestamptz WHERE id = $1", [id]);
      const rows = await ctx.pool.query<{ webhook_delivery_id: string | null }>(
        "SELECT webhook_delivery_id FROM claim_deliveries($1::uuid[], '{5}'::int[], 10000, gen_random_uuid(), 0, 1000, '2026-12-03T12:00:00.0006Z'::timestamptz)",
        [[sub]],
      );
      expect(rows.rows.map((r) => r.webhook_delivery_id).filter(Boolean)).toEqual([id]);
    });

    it("recording an attempt frees its slot at once; a late record of a lease taken over changes nothing", async () => {
      const sub = await lane({ maxInFlight: 1 });
      const [a, b] = await deliveries(sub, [null, null]);
      const first = await claim(sub, 5, settings(T));
      expect(claimedIds(first)).toEqual([a]);
      await recordAttempts(ctx.db, [record(first.claimed[0]!, "succeeded", T)]);
      const second = await claim(sub, 5, settings(at(1)));
      expect(claimedIds(second)).toEqual([b]);
      // A record under a lease that is no longer the delivery's (it ran out and was claimed again) is ignored:
      // it neither changes the delivery nor frees the slot the new lease holds.
      await recordAttempts(ctx.db, [record({ ...second.claimed[0]!, leaseToken: randomUUID() }, "succeeded", at(2))]);
      const [row] = await ctx.pool.query<{ status: string }>("SELECT status FROM webhook_deliveries WHERE id = $1", [b]).then((r) => r.rows);
      expect(row!.status).toBe("pending");
      expect((await claim(sub, 5, settings(at(3)))).claimed).toEqual([]);
    });

    it("two claims of one busy lane in open transactions never wait on each other and never take the same slot or delivery", async () => {
      const sub = await lane({ maxInFlight: 4 });
      const ids = await deliveries(sub, [null, null, null, null, null, null]);
      await whileClaimOpen(sub, 3, T, async (first) => {
        const second = await impatient((sql) => claim(sub, 3, settings(T), sql));
        expect(claimedIds(first)).toEqual(ids.slice(0, 3));
        expect(claimedIds(second)).toEqual([ids[3]]);
      });
      const slots = await ctx.pool.query<{ slot: number }>(
        "SELECT slot FROM webhook_deliveries WHERE subscription_id = $1 AND leased_until IS NOT NULL ORDER BY slot",
        [sub],
      );
      expect(slots.rows.map((r) => r.slot)).toEqual([0, 1, 2, 3]);
    });

    it("a lease rewrites its deliveries' rows in place (HOT): their pages were written with room for it", async () => {
      const sub = await lane();
      // 400 deliveries written by one statement, as a fan-out writes them: whole pages of their own. The 8 in
      // the middle are due first, so the lease lands on pages no other case has touched.
      const { rows: written } = await ctx.pool.query<{ id: string; first: boolean }>(
        `WITH e AS (
           INSERT INTO events (id, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope)
           SELECT gen_random_uuid(), 'test', 'reservation.created', 'reservations/' || g, 'reservation', $1 || ':' || g, 1, $2, 'hot:' || $1 || ':' || g,
                  '{"specversion":"1.0"}'::jsonb
             FROM generate_series(1, 400) g RETURNING id, subject, split_part(entity_id, ':', 2)::int AS n)
         INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at)
         SELECT gen_random_uuid(), e.id, $3, 'pending', e.subject, e.n + $4,
                $2::timestamptz - CASE WHEN e.n BETWEEN 200 AND 207 THEN interval '1 second' ELSE interval '0' END, $2, now()
           FROM e RETURNING id, position BETWEEN $4 + 200 AND $4 + 207 AS first`,
        [randomUUID(), T, sub, position],
      );
      position += 1_000;
      const client = await ctx.pool.connect();
      try {
        await client.query("BEGIN");
        // This connection's updates of the table not yet reported (earlier transactions' may be among them):
        // the claim's are what it adds.
        const updates = async () => {
          const { rows } = await client.query<{ updated: string; hot: string }>(
            "SELECT n_tup_upd AS updated, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = 'webhook_deliveries'",
          );
          return { updated: Number(rows[0]!.updated), hot: Number(rows[0]!.hot) };
        };
        const before = await updates();
        const leased = await claim(sub, 8, settings(T), inOpenTransaction(ctx.db, client));
        expect(new Set(claimedIds(leased))).toEqual(new Set(written.filter((w) => w.first).map((w) => w.id)));
        const after = await updates();
        // All 8 in place (the lane's slots are another table).
        expect({ updated: after.updated - before.updated, hot: after.hot - before.hot }).toEqual({ updated: 8, hot: 8 });
      } finally {
        await client.query("ROLLBACK");
        client.release();
      }
    });

    it("a lowered limit counts only its first slots; a raised one gets its slots from the trigger", async () => {
      const sub = await lane({ maxInFlight: 3 });
      await deliveries(sub, [null, null, null, null, null]);
      await ctx.pool.query("UPDATE subscriptions SET max_in_flight = 1 WHERE id = $1", [sub]);
      expect((await claim(sub, 5, settings(T))).claimed).toHaveLength(1);
      await ctx.pool.query("UPDATE subscriptions SET max_in_flight = 5 WHERE id = $1", [sub]);
      expect((await claim(sub, 5, settings(at(1)))).claimed).toHaveLength(4);
    });
  });

  describe("claim_deliveries: many lanes in one call", () => {
    it("serves lanes of every kind side by side, each by its own limits; a lane asked for twice is served once", async () => {
      const [a, b, idle, ordered, limited, probing, paused, full] = [
        await lane({ maxInFlight: 2 }),
        await lane({ maxInFlight: 2 }),
        await lane(),
        await lane({ ordered: true }),
        await lane({ rate: 2 }),
        await lane({ failures: 5 }),
        await lane(),
        await lane({ maxInFlight: 1 }),
      ];
      const aIds = await deliveries(a!, [null, null, null]);
      const bIds = await deliveries(b!, [null, null, null]);
      const [idleNow, idleLater] = await deliveries(idle!, [null, null]);
      await ctx.pool.query("UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1", [idleLater, at(2_000)]);
      const [s1, , r1] = await deliveries(ordered!, ["reservation/s", "reservation/s", "reservation/r"]);
      await deliveries(limited!, [null, null, null, null]);
      await deliveries(probing!, [null, null]);
      await deliveries(paused!, [null]);
      await ctx.pool.query("UPDATE subscriptions SET paused_until = $2 WHERE id = $1", [paused, at(1_000)]);
      await deliveries(full!, [null, null]);
      expect((await claim(full!, 1, settings(T))).claimed).toHaveLength(1);

      const asked = [a, b, idle, ordered, limited, probing, paused, full, a].map((id) => ({ subscriptionId: id!, want: 10 }));
      const result = await claimDeliveries(onPool(ctx.db), asked, randomUUID(), settings(T, { circuitAfterFailures: 5 }));
      const got = (id: string) => result.claimed.filter((c) => c.subscriptionId === id).map((c) => c.webhookDeliveryId);
      const laneRow = (id: string) => result.lanes.filter((l) => l.subscriptionId === id);

      expect(got(a!)).toEqual(aIds.slice(0, 2));
      expect(got(b!)).toEqual(bIds.slice(0, 2));
      expect(got(idle!)).toEqual([idleNow]);
      expect(got(ordered!).sort()).toEqual([s1, r1].sort());
      expect(got(limited!)).toHaveLength(2);
      expect(got(probing!)).toHaveLength(1);
      expect(got(paused!)).toEqual([]);
      expect(got(full!)).toEqual([]);
      expect(new Set(result.claimed.map((c) => c.webhookDeliveryId)).size).toBe(result.claimed.length);
      // One row per lane that may send; the paused one has none.
      expect(result.lanes.map((l) => l.subscriptionId).sort()).toEqual([a, b, idle, ordered, limited, probing, full].sort());
      expect(laneRow(a!)).toHaveLength(1);
      // Room: what it got when it took all it could (more may wait), what it could ask for when it took everything due.
      expect(laneRow(a!)[0]).toMatchObject({ room: 2, nextAt: null, ordered: false });
      expect(laneRow(idle!)[0]).toMatchObject({ room: 10, nextAt: at(2_000) });
      expect(laneRow(ordered!)[0]).toMatchObject({ room: 10, ordered: true });
      expect(laneRow(limited!)[0]).toMatchObject({ room: 2, nextAt: at(500) });
      expect(laneRow(full!)[0]).toMatchObject({ room: 0 });
      // Each delivery carries its event's body and holds one of its lane's slots.
      for (const c of result.claimed) expect(JSON.parse(c.body)).toMatchObject({ specversion: "1.0" });
      const { rows } = await ctx.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM delivery_slots WHERE subscription_id = ANY($1::uuid[]) AND leased_until > $2",
        [[a, b], T],
      );
      expect(rows[0]!.n).toBe(4);
    });
  });

  describe("claim_deliveries: rate limit (GCRA, a burst of one second's worth)", () => {
    it("2/s: a burst of 2, then one each 500 ms, and the lane is told when", async () => {
      const sub = await lane({ rate: 2 });
      await deliveries(sub, [null, null, null, null, null, null]);
      expect((await claim(sub, 10, settings(T))).claimed).toHaveLength(2);
      const early = await claim(sub, 10, settings(at(499)));
      expect(early.claimed).toEqual([]);
      expect(early.lanes[0]!.nextAt?.toISOString()).toBe(at(500).toISOString());
      expect((await claim(sub, 10, settings(at(500)))).claimed).toHaveLength(1);
      expect((await claim(sub, 10, settings(at(999)))).claimed).toHaveLength(0);
      expect((await claim(sub, 10, settings(at(1000)))).claimed).toHaveLength(1);
    });

    it("the lowest rate (0.001/s): one request, then the next 1,000 s later", async () => {
      const sub = await lane({ rate: 0.001 });
      await deliveries(sub, [null, null]);
      expect((await claim(sub, 10, settings(T))).claimed).toHaveLength(1);
      const held = await claim(sub, 10, settings(at(1)));
      expect(held.claimed).toEqual([]);
      expect(held.lanes[0]!.nextAt?.toISOString()).toBe(at(1_000_000).toISOString());
      expect((await claim(sub, 10, settings(at(1_000_000)))).claimed).toHaveLength(1);
    });

    it("a rate-limited lane whose limiter another claim holds is skipped, not waited for", async () => {
      const sub = await lane({ rate: 100 });
      await deliveries(sub, [null, null]);
      const client = await ctx.pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT 1 FROM subscriptions WHERE id = $1 FOR NO KEY UPDATE", [sub]);
        const skipped = await claim(sub, 10, settings(T));
        expect(skipped).toEqual({ lanes: [], claimed: [] });
      } finally {
        await client.query("ROLLBACK");
        client.release();
      }
      expect((await claim(sub, 10, settings(T))).claimed).toHaveLength(2);
    });
  });

  describe("claim_deliveries: the circuit", () => {
    it("a lane whose last 5 attempts failed is probed one request at a time, one per probe interval", async () => {
      const sub = await lane({ failures: 5 });
      await deliveries(sub, [null, null, null]);
      const s = (now: Date) => settings(now, { circuitAfterFailures: 5, circuitProbeMs: 1_000 });
      const probe = await claim(sub, 10, s(T));
      expect(probe.claimed).toHaveLength(1);
      await recordAttempts(ctx.db, [record(probe.claimed[0]!, "pending", T)]);
      // Its slot is free again, but the next probe is due a probe interval later.
      const early = await claim(sub, 10, s(at(999)));
      expect(early.claimed).toEqual([]);
      expect(early.lanes[0]!.nextAt?.toISOString()).toBe(at(1000).toISOString());
      expect((await claim(sub, 10, s(at(1000)))).claimed).toHaveLength(1);
    });
  });

  describe("claim_deliveries: ordered mode", () => {
    it("only a subject's first unfinished delivery, none while one of its subject is in flight; other subjects go on", async () => {
      const sub = await lane({ ordered: true });
      const [s1, s2] = await deliveries(sub, ["reservation/s", "reservation/s"]);
      const [r1] = await deliveries(sub, ["reservation/r"]);
      const first = await claim(sub, 10, settings(T));
      expect(claimedIds(first).sort()).toEqual([s1, r1].sort());
      expect((await claim(sub, 10, settings(at(1)))).claimed).toEqual([]);
      await recordAttempts(
        ctx.db,
        first.claimed.map((c) => record(c, "succeeded", at(2))),
      );
      expect(claimedIds(await claim(sub, 10, settings(at(3))))).toEqual([s2]);
    });

    it("a re-sent old event goes first; the subject's next waits until it is done", async () => {
      const sub = await lane({ ordered: true });
      const [head] = await deliveries(sub, ["reservation/q"]);
      const [old] = await deliveries(sub, [null]);
      // An operator re-sent an older event of the subject: it is due, with a lower log position than the head.
      await ctx.pool.query("UPDATE webhook_deliveries SET subject = 'reservation/q', position = 0 WHERE id = $1", [old]);
      const first = await claim(sub, 10, settings(T));
      expect(claimedIds(first)).toEqual([old]);
      // The head waits until the re-sent one is done, then goes.
      expect((await claim(sub, 10, settings(at(1)))).claimed).toEqual([]);
      await recordAttempts(ctx.db, [record(first.claimed[0]!, "succeeded", at(2))]);
      expect(claimedIds(await claim(sub, 10, settings(at(3))))).toEqual([head]);
    });

    it("two claims in open transactions never lease two deliveries of one subject", async () => {
      const sub = await lane({ ordered: true });
      const [head] = await deliveries(sub, ["reservation/p"]);
      const [old] = await deliveries(sub, [null]);
      await ctx.pool.query("UPDATE webhook_deliveries SET subject = 'reservation/p', position = 0, status = 'succeeded' WHERE id = $1", [old]);
      await whileClaimOpen(sub, 10, T, async (first) => {
        expect(claimedIds(first)).toEqual([head]);
        // Meanwhile an operator re-sends the subject's older event. The first claim's lease is not committed
        // yet, so the row still looks idle: the subject's lock is what keeps the second claim off the subject.
        await ctx.pool.query("UPDATE webhook_deliveries SET status = 'pending' WHERE id = $1", [old]);
        expect((await claim(sub, 10, settings(T))).claimed).toEqual([]);
      });
      // Committed, the head's lease holds the subject: still nothing until it is done.
      expect((await claim(sub, 10, settings(at(1)))).claimed).toEqual([]);
    });
  });
});

describe("the writer's fan-out leases first attempts as it writes them (db/fan-out.ts)", () => {
  /** One Flovi-drain-like write of `n` reservation events, offering these leases; returns the new deliveries of `lanes`. */
  async function write(n: number, offer: LaneRequest[], now: Date, lanes: string[], sql?: Sql) {
    const events = Array.from({ length: n }, () => {
      const entityId = randomUUID();
      return { envelope: createEvent(reservationCreated(entityId, `fan-out-lease:${entityId}`, now), randomUUID()), dedupeKey: entityId, requestId: null };
    });
    const plan = { reservations: [], transitions: [], inbound: [], events };
    const lease = { lanes: offer, leaseToken: randomUUID(), settings: { leaseMs: LEASE_MS, circuitAfterFailures: 5, now } };
    const written = sql ? await writeReportPlan(sql, plan, lease) : await withTransaction(ctx.db, (tx) => writeReportPlan(tx, plan, lease));
    return { lease, deliveries: written.deliveries.filter((d) => lanes.includes(d.subscriptionId)) };
  }
  const slotsTaken = async (sub: string) =>
    (
      await ctx.pool.query<{ slot: number }>("SELECT slot FROM delivery_slots WHERE subscription_id = $1 AND leased_until IS NOT NULL ORDER BY slot", [sub])
    ).rows.map((r) => r.slot);

  it("leases as many new deliveries as offered and free slots allow, with the body and target to send; the rest is left to the claim", async () => {
    const now = new Date();
    const sub = await lane({ maxInFlight: 2 });
    const { lease, deliveries: made } = await write(3, [{ subscriptionId: sub, want: 5 }], now, [sub]);
    const leased = made.filter((d) => d.leased);
    expect(leased).toHaveLength(2);
    expect(leased[0]!.leased!.claimed).toMatchObject({ attempts: 0, scheduleStep: 0, leaseToken: lease.leaseToken });
    // The schedule starts when the row says it does (the database's clock), as a claim would read it.
    const [stored] = (await ctx.pool.query("SELECT schedule_started_at FROM webhook_deliveries WHERE id = $1", [leased[0]!.webhookDeliveryId])).rows;
    expect(leased[0]!.leased!.claimed.scheduleStartedAt).toEqual(stored.schedule_started_at);
    expect(JSON.parse(leased[0]!.leased!.claimed.body)).toMatchObject({ id: leased[0]!.eventId, type: "reservation.created" });
    expect(leased[0]!.leased!.lane).toMatchObject({ subscriptionId: sub, url: `http://127.0.0.1:9/${sub}`, secret: "whsec_x", ordered: false });
    expect(await slotsTaken(sub)).toEqual([0, 1]);
    expect((await laneStats(ctx.db, sub)).inFlight).toBe(2);
    // The third waits, unleased, for a claim; the lane's two slots are taken until the leases end.
    const [row] = (await ctx.pool.query("SELECT leased_until, slot FROM webhook_deliveries WHERE id = $1", [made.find((d) => !d.leased)!.webhookDeliveryId]))
      .rows;
    expect(row).toEqual({ leased_until: null, slot: null });
    const later = new Date(now.getTime() + 5_000);
    expect((await claim(sub, 5, settings(later))).claimed).toEqual([]);
    // Recording a leased attempt frees its slot, as for a claimed one.
    await recordAttempts(ctx.db, [record(leased[0]!.leased!.claimed, "succeeded", later)]);
    expect((await laneStats(ctx.db, sub)).inFlight).toBe(1);
    expect(claimedIds(await claim(sub, 5, settings(later)))).toEqual([made.find((d) => !d.leased)!.webhookDeliveryId]);
  });

  it("takes no more than offered, and leases nothing for a lane not offered", async () => {
    const now = new Date();
    const offered = await lane();
    const other = await lane();
    const { deliveries: made } = await write(3, [{ subscriptionId: offered, want: 1 }], now, [offered, other]);
    expect(made.filter((d) => d.leased).map((d) => d.subscriptionId)).toEqual([offered]);
    expect(made).toHaveLength(6);
  });

  it("a lane that must take turns is left to the claim: ordered, rate-limited, probing, paused", async () => {
    const now = new Date();
    const lanes = [await lane({ ordered: true }), await lane({ rate: 100 }), await lane({ failures: 5 }), await lane()];
    await ctx.pool.query("UPDATE subscriptions SET paused_until = $2 WHERE id = $1", [lanes[3], new Date(now.getTime() + 60_000)]);
    const { deliveries: made } = await write(
      2,
      lanes.map((subscriptionId) => ({ subscriptionId, want: 2 })),
      now,
      lanes,
    );
    expect(made).toHaveLength(8);
    expect(made.filter((d) => d.leased)).toEqual([]);
    for (const sub of lanes) expect(await slotsTaken(sub)).toEqual([]);
  });

  it("skips a slot an open claim holds instead of waiting for it", async () => {
    const now = new Date();
    const sub = await lane({ maxInFlight: 2 });
    await deliveries(sub, [null]);
    await whileClaimOpen(sub, 1, now, async (first) => {
      expect(first.claimed).toHaveLength(1);
      // Were the fan-out to wait for the claim's slot, it would fail here instead of answering.
      const made = await impatient(async (sql) => (await write(2, [{ subscriptionId: sub, want: 2 }], now, [sub], sql)).deliveries);
      expect(made.filter((d) => d.leased).map((d) => d.leased!.claimed.leaseToken)).toHaveLength(1);
    });
    expect(await slotsTaken(sub)).toEqual([0, 1]);
  });
});

describe("the record hands a busy lane's freed slots to its next due deliveries (a handover)", () => {
  const handover = (lanes: LaneRequest[], now: Date, extra: Partial<ClaimSettings> = {}): Handover => ({
    lanes,
    leaseToken: randomUUID(),
    settings: settings(now, extra),
  });
  const slots = async (sub: string) =>
    (
      await ctx.pool.query<{ slot: number; lease_token: string | null }>(
        "SELECT slot, lease_token FROM delivery_slots WHERE subscription_id = $1 AND leased_until IS NOT NULL ORDER BY slot",
        [sub],
      )
    ).rows;
  const leaseOf = async (id: string) =>
    (await ctx.pool.query<{ lease_token: string | null; slot: number | null }>("SELECT lease_token, slot FROM webhook_deliveries WHERE id = $1", [id]))
      .rows[0]!;

  it("the next due deliveries, oldest first, take the freed slots under the handover's lease, with their body and target; no claim needed", async () => {
    const sub = await lane({ maxInFlight: 2 });
    const ids = await deliveries(sub, [null, null, null, null, null]);
    const first = await claim(sub, 2, settings(T));
    const asked = handover([{ subscriptionId: sub, want: 2 }], at(1));
    const { handedOver } = await recordAttempts(
      ctx.db,
      first.claimed.map((c) => record(c, "succeeded", at(1))),
      asked,
    );
    expect(claimedIds(handedOver)).toEqual(ids.slice(2, 4));
    expect(handedOver.claimed[0]).toMatchObject({ subscriptionId: sub, attempts: 0, scheduleStep: 0, leaseToken: asked.leaseToken });
    expect(JSON.parse(handedOver.claimed[0]!.body)).toMatchObject({ id: handedOver.claimed[0]!.eventId, type: "reservation.created" });
    expect(handedOver.lanes).toEqual([
      expect.objectContaining({ subscriptionId: sub, url: `http://127.0.0.1:9/${sub}`, secret: "whsec_x", room: 2, ordered: false }),
    ]);
    // The slots changed hands without being free: a claim now finds none.
    expect(await slots(sub)).toEqual([
      { slot: 0, lease_token: asked.leaseToken },
      { slot: 1, lease_token: asked.leaseToken },
    ]);
    expect((await claim(sub, 5, settings(at(2)))).claimed).toEqual([]);
    expect((await leaseOf(ids[2]!)).lease_token).toBe(asked.leaseToken);
    // Their own record ends the handover's leases as a claim's (and hands over again: the fifth goes).
    const second = await recordAttempts(
      ctx.db,
      handedOver.claimed.map((c) => record(c, "succeeded", at(3))),
      handover([{ subscriptionId: sub, want: 2 }], at(3)),
    );
    expect(claimedIds(second.handedOver)).toEqual([ids[4]]);
    expect(await slots(sub)).toHaveLength(1);
    const done = await ctx.pool.query<{ status: string }>("SELECT status FROM webhook_deliveries WHERE id = ANY($1::uuid[]) ORDER BY position", [
      ids.slice(0, 4),
    ]);
    expect(done.rows.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("takes no more than asked; the other freed slots are free for any claim", async () => {
    const sub = await lane({ maxInFlight: 3 });
    const ids = await deliveries(sub, [null, null, null, null, null, null]);
    const first = await claim(sub, 3, settings(T));
    const { handedOver } = await recordAttempts(
      ctx.db,
      first.claimed.map((c) => record(c, "succeeded", at(1))),
      handover([{ subscriptionId: sub, want: 1 }], at(1)),
    );
    expect(claimedIds(handedOver)).toEqual([ids[3]]);
    expect(claimedIds(await claim(sub, 5, settings(at(2))))).toEqual(ids.slice(4, 6));
  });

  it("hands over no more than are due: a retry not due yet stays where it is", async () => {
    const sub = await lane({ maxInFlight: 2 });
    const [a, b, c, d] = await deliveries(sub, [null, null, null, null]);
    await ctx.pool.query("UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1", [d, at(60_000)]);
    const first = await claim(sub, 2, settings(T));
    expect(claimedIds(first)).toEqual([a, b]);
    const { handedOver } = await recordAttempts(
      ctx.db,
      first.claimed.map((x) => record(x, "succeeded", at(1))),
      handover([{ subscriptionId: sub, want: 2 }], at(1)),
    );
    expect(claimedIds(handedOver)).toEqual([c]);
    expect(await slots(sub)).toHaveLength(1);
    expect((await leaseOf(d!)).lease_token).toBeNull();
  });

  it("a slot above a lowered in-flight limit is freed, not handed over", async () => {
    const sub = await lane({ maxInFlight: 2 });
    const ids = await deliveries(sub, [null, null, null, null]);
    const first = await claim(sub, 2, settings(T));
    await ctx.pool.query("UPDATE subscriptions SET max_in_flight = 1 WHERE id = $1", [sub]);
    const asked = handover([{ subscriptionId: sub, want: 2 }], at(1));
    const { handedOver } = await recordAttempts(
      ctx.db,
      first.claimed.map((c) => record(c, "succeeded", at(1))),
      asked,
    );
    expect(claimedIds(handedOver)).toEqual([ids[2]]);
    expect(await slots(sub)).toEqual([{ slot: 0, lease_token: asked.leaseToken }]);
    expect((await leaseOf(ids[2]!)).slot).toBe(0);
  });

  it("a lane that must take turns or may not send hands nothing over and frees its slots: ordered, rate-limited, probing, paused, disabled", async () => {
    const lanes = [await lane({ ordered: true }), await lane({ rate: 100 }), await lane(), await lane(), await lane()];
    for (const sub of lanes) await deliveries(sub, [null, "reservation/h", null]);
    const claimed = [];
    for (const sub of lanes) claimed.push(...(await claim(sub, 1, settings(T))).claimed);
    expect(claimed).toHaveLength(5);
    await ctx.pool.query("UPDATE subscriptions SET consecutive_failures = 5 WHERE id = $1", [lanes[2]]);
    await ctx.pool.query("UPDATE subscriptions SET paused_until = $2 WHERE id = $1", [lanes[3], at(60_000)]);
    await ctx.pool.query("UPDATE subscriptions SET status = 'disabled' WHERE id = $1", [lanes[4]]);
    const { handedOver } = await recordAttempts(
      ctx.db,
      claimed.map((c) => record(c, "succeeded", at(1))),
      handover(
        lanes.map((subscriptionId) => ({ subscriptionId, want: 1 })),
        at(1),
        { circuitAfterFailures: 5 },
      ),
    );
    expect(handedOver).toEqual({ lanes: [], claimed: [] });
    for (const sub of lanes) expect(await slots(sub)).toEqual([]);
  });

  it("a record under a lease taken over neither frees nor hands over the slot its new holder has", async () => {
    const sub = await lane({ maxInFlight: 1 });
    const [a, b] = await deliveries(sub, [null, null, null]);
    const first = await claim(sub, 1, settings(T));
    // The lease ran out; another process claimed the delivery again (and the slot).
    const again = await claim(sub, 1, settings(at(LEASE_MS)));
    expect(claimedIds(again)).toEqual([a]);
    const { handedOver } = await recordAttempts(
      ctx.db,
      [record(first.claimed[0]!, "succeeded", at(LEASE_MS + 1))],
      handover([{ subscriptionId: sub, want: 1 }], at(LEASE_MS + 1)),
    );
    expect(handedOver.claimed).toEqual([]);
    expect(await slots(sub)).toEqual([{ slot: 0, lease_token: again.claimed[0]!.leaseToken }]);
    expect((await leaseOf(b!)).lease_token).toBeNull();
  });

  it("skips a delivery an open claim holds instead of waiting for it", async () => {
    const sub = await lane({ maxInFlight: 3 });
    const ids = await deliveries(sub, [null, null, null, null]);
    const first = await claim(sub, 2, settings(T));
    await whileClaimOpen(sub, 1, T, async (open) => {
      expect(claimedIds(open)).toEqual([ids[2]]);
      // Were the handover to wait for the open claim's row, it would wait for ever (the claim commits after
      // this answers): it fails after 3 s instead.
      const recorded = recordAttempts(
        ctx.db,
        first.claimed.map((c) => record(c, "succeeded", at(1))),
        handover([{ subscriptionId: sub, want: 2 }], at(1)),
      );
      const { handedOver } = await Promise.race([
        recorded,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the record waited for the open claim's lock")), 3_000).unref()),
      ]);
      expect(claimedIds(handedOver)).toEqual([ids[3]]);
    });
  });
});

describe("the poll's probe (lanesWithDueWork)", () => {
  it("finds the lanes with a due delivery no one holds, and not the skipped, the paused, the leased or the not yet due", async () => {
    const [due, skipped, paused, leased, later] = [await lane(), await lane(), await lane(), await lane(), await lane()];
    for (const sub of [due, skipped, paused, leased]) await deliveries(sub, [null, null]);
    await deliveries(later, [null]);
    await ctx.pool.query("UPDATE subscriptions SET paused_until = now() + interval '1 minute' WHERE id = $1", [paused]);
    await ctx.pool.query("UPDATE webhook_deliveries SET leased_until = now() + interval '1 minute' WHERE subscription_id = $1", [leased]);
    await ctx.pool.query("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 minute' WHERE subscription_id = $1", [later]);
    const found = new Set(await lanesWithDueWork(ctx.db, [skipped]));
    expect([due, skipped, paused, leased, later].filter((id) => found.has(id))).toEqual([due]);
    // One of a lane's two due deliveries leased (an attempt in flight): the other one still makes it due.
    await ctx.pool.query(
      "UPDATE webhook_deliveries SET leased_until = NULL WHERE id = (SELECT id FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY position LIMIT 1)",
      [leased],
    );
    expect(await lanesWithDueWork(ctx.db, [skipped])).toContain(leased);
  });
});
