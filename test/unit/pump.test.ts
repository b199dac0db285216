// The delivery pump's scheduling, without a database or a subscriber: the store is an in-memory fake of the
// small interface the pump takes (lanes with due deliveries, leased as each lane's room allows), and an
// attempt is a function answering a decision. What is checked is the pump's own logic: this process's
// capacity, a retry claimed again at its time, ordered mode's next delivery claimed when the previous ends,
// a claim inside a writer's transaction started only on commit. (delivery*.test.ts run it for real.) Time is a
// manual clock: a retry's delay, an attempt that takes a while and a slow claim pass when the test moves
// time on, never on the wall clock.
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { ClaimedDelivery, ClaimResult, LaneRequest, LaneRow } from "../../src/db/delivery-lanes.js";
import { INLINE_FAN_OUT, type NewDelivery } from "../../src/db/fan-out.js";
import type { Sql } from "../../src/db/sql.js";
import type { AttemptDecision } from "../../src/delivery/decisions.js";
import { LANES_PER_SLOW_ROUND, MAX_ROUND_PAUSE_MS } from "../../src/delivery/claim-pacing.js";
import { createDeliveryPump } from "../../src/delivery/pump.js";
import type { PumpStore } from "../../src/delivery/pump-store.js";
import type { DeliveryPump } from "../../src/delivery/pump-types.js";
import { type ManualClock, manualClock, settle, until } from "../helpers/manual-clock.js";

const log = pino({ level: "silent" });
const settings = { circuitAfterFailures: 0, circuitProbeMs: 1_000, capacity: 4, pollIntervalMs: 60_000, destinationLimit: () => 1_000 };
/** Lanes named `slow-…` point at one host, every other lane at a host of its own. */
/** The writer's transaction, as the pump's fake store sees it: nothing is run in it. */
const noSql: Sql = { query: async () => [], hot: async () => [] };
const urlOf = (id: string) => (id.startsWith("slow-") ? `http://slow.test/${id}` : `http://${id}.test/hooks`);

function lane(id: string, ordered = false): LaneRow {
  return {
    subscriptionId: id,
    room: 0,
    nextAt: null,
    ordered,
    url: urlOf(id),
    secret: "whsec_x",
    previousSecret: null,
    previousSecretExpiresAt: null,
  } as LaneRow;
}

/** Deliveries waiting per lane; a claim leases up to what was asked, in order. */
function fakeStore(waiting: Record<string, number>, opts: { ordered?: boolean; slots?: number } = {}) {
  const queue = new Map(Object.entries(waiting).map(([id, n]) => [id, Array.from({ length: n }, (_, i) => `${id}-${i + 1}`)]));
  const inSql: string[] = [];
  const skipped: string[][] = [];
  let claims = 0;
  const store: PumpStore = {
    async claim(requests: LaneRequest[], leaseToken: string, _s, sql?: Sql): Promise<ClaimResult> {
      claims += 1;
      if (sql) inSql.push(...requests.map((r) => r.subscriptionId));
      const lanes: LaneRow[] = [];
      const claimed: ClaimedDelivery[] = [];
      for (const r of requests) {
        const left = queue.get(r.subscriptionId) ?? [];
        // Ordered mode: one delivery of the subject at a time.
        // A lane's slots (its in-flight limit in every process) bound what a claim takes.
        const could = Math.min(r.want, opts.slots ?? r.want);
        const take = Math.min(could, opts.ordered ? 1 : left.length);
        // As the real claim answers: fewer were due than it could take, its room is what it asked (nothing more
        // is due); else what it took (it took all it could, more may be waiting).
        const room = take < could ? r.want : take;
        lanes.push({ ...lane(r.subscriptionId, opts.ordered), room });
        for (const id of left.splice(0, take))
          claimed.push({
            webhookDeliveryId: id,
            subscriptionId: r.subscriptionId,
            eventId: `event-${id}`,
            attempts: 0,
            scheduleStep: 0,
            scheduleStartedAt: new Date(),
            body: "{}",
            leaseToken,
          } as ClaimedDelivery);
      }
      return { lanes, claimed };
    },
    async lanesWithDueWork(skip) {
      skipped.push(skip);
      return [...queue].filter(([id, left]) => left.length > 0 && !skip.includes(id)).map(([id]) => id);
    },
    activeLanes: async (ids) => ids.map((id) => ({ subscriptionId: id, url: urlOf(id) })),
  };
  return { store, queue, inSql, skipped, claims: () => claims };
}

/** New deliveries a writer's fan-out made, one per lane named (leased by it when `leased`). */
function newDeliveries(lanes: string[], leased?: { token: string }): NewDelivery[] {
  return lanes.map((id, i) => {
    const webhookDeliveryId = `${id}-new-${i}`;
    const delivery: NewDelivery = { webhookDeliveryId, eventId: `event-${webhookDeliveryId}`, subscriptionId: id, status: "pending" };
    if (!leased) return delivery;
    const claimed = {
      webhookDeliveryId,
      eventId: delivery.eventId,
      subscriptionId: id,
      attempts: 0,
      scheduleStep: 0,
      scheduleStartedAt: new Date(),
      body: "{}",
      leaseToken: leased.token,
    };
    return { ...delivery, leased: { claimed, lane: lane(id) } };
  });
}

/** Attempts that end when told to; records the most in flight at once. */
function attempts(decide: (id: string, tries: number) => AttemptDecision = () => ({ kind: "delivered" }) as AttemptDecision) {
  const done: string[] = [];
  const tries = new Map<string, number>();
  let inFlight = 0;
  let most = 0;
  const attempt = async (claimed: ClaimedDelivery) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    // Work that takes no time: the attempts a claim started are all in flight before any ends.
    await settle(2);
    inFlight -= 1;
    const n = (tries.get(claimed.webhookDeliveryId) ?? 0) + 1;
    tries.set(claimed.webhookDeliveryId, n);
    const decision = decide(claimed.webhookDeliveryId, n);
    if (decision.kind === "delivered") done.push(claimed.webhookDeliveryId);
    return decision;
  };
  return { attempt, done, tries, most: () => most };
}

const pumpWith = (
  store: PumpStore,
  attempt: (c: ClaimedDelivery, l: LaneRow) => Promise<AttemptDecision>,
  capacity = settings.capacity,
  destinationLimit = settings.destinationLimit,
  clock: ManualClock = manualClock(),
) =>
  createDeliveryPump({
    store,
    log,
    attempt,
    recorded: async () => undefined,
    attemptTimeoutMs: 1_000,
    settings: { ...settings, capacity, destinationLimit },
    clock,
  });

describe("the delivery pump", () => {
  it("sends every due delivery of every nudged lane, never more at once than its capacity", async () => {
    const fake = fakeStore({ a: 6, b: 6, c: 6 });
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt, 4);
    pump.nudge(["a", "b", "c"]);
    await pump.idle();
    await pump.close();
    expect(run.done.sort()).toHaveLength(18);
    expect(run.most()).toBeLessThanOrEqual(4);
    expect(run.most()).toBeGreaterThan(1);
  });

  it("claims a retry again at its time, not before", async () => {
    const fake = fakeStore({ a: 1 });
    const run = attempts((_id, n) => (n === 1 ? ({ kind: "retry", delayMs: 30 } as AttemptDecision) : ({ kind: "delivered" } as AttemptDecision)));
    const clock = manualClock();
    const pump = pumpWith(fake.store, run.attempt, settings.capacity, settings.destinationLimit, clock);
    // The fake gives the delivery back once it is due again (30 ms after its first attempt, which takes no
    // time), as the database does after a retry's record.
    const original = fake.store.claim;
    const start = clock.now();
    let returned = false;
    fake.store.claim = async (requests, token, s, sql) => {
      if (run.tries.get("a-1") === 1 && !returned && clock.now() >= start + 30) {
        returned = true;
        fake.queue.get("a")!.push("a-1");
      }
      return original(requests, token, s, sql);
    };
    pump.nudge(["a"]);
    await until(() => run.tries.get("a-1") === 1, "the first attempt");
    await clock.advance(29);
    expect(run.tries.get("a-1")).toBe(1);
    await clock.advance(1);
    await until(() => run.done.length === 1, "the retry, at its time");
    await pump.close();
    expect(run.tries.get("a-1")).toBe(2);
    expect(run.done).toEqual(["a-1"]);
  });

  it("in ordered mode, sends a lane's deliveries one after the other, each claimed when the previous ends", async () => {
    const fake = fakeStore({ a: 3 }, { ordered: true });
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt);
    pump.nudge(["a"]);
    await until(() => run.done.length === 3, "three deliveries");
    await pump.close();
    expect(run.done).toEqual(["a-1", "a-2", "a-3"]);
    expect(run.most()).toBe(1);
  });

  it("a claim inside a writer's transaction starts its attempts only once told the transaction committed", async () => {
    const fake = fakeStore({ a: 2 });
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt);
    const claim = pump.claimWithin(2);
    await claim.claim(noSql, newDeliveries(["a"]));
    expect(fake.inSql).toEqual(["a"]);
    await settle();
    expect(run.tries.size).toBe(0);
    claim.start();
    await pump.idle();
    await pump.close();
    expect(run.done.sort()).toEqual(["a-1", "a-2"]);
  });

  it("a writer's fan-out is offered leases for lanes it knows; what it leased starts on commit with no claim, the rest is claimed", async () => {
    const fake = fakeStore({ a: 1, b: 0 });
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt);
    // Nothing is known yet: nothing to offer, the new deliveries are claimed in the writer's transaction.
    expect(pump.claimWithin(2).lease).toBeUndefined();
    pump.nudge(["a", "b"]);
    await until(() => run.done.length === 1, "a's first delivery");
    const claims = fake.claims();
    const within = pump.claimWithin(2);
    // Capacity 4 in this process, two destinations with work: each lane is offered its share.
    expect(within.lease?.lanes).toEqual([
      { subscriptionId: "a", want: 2 },
      { subscriptionId: "b", want: 2 },
    ]);
    await within.claim(noSql, [...newDeliveries(["a", "a"], { token: within.lease!.leaseToken }), ...newDeliveries(["b"])]);
    // b's delivery was not leased by the fan-out: claimed in the transaction; a's need no claim.
    expect(fake.inSql).toEqual(["b"]);
    expect(fake.claims()).toBe(claims + 1);
    await settle();
    expect(run.tries.size).toBe(1);
    within.start();
    await until(() => run.done.length === 3, "a's two leased deliveries");
    await pump.close();
    expect(run.done.filter((id) => id.startsWith("a-new"))).toHaveLength(2);
  });

  it("a writer's claim holds its transaction for 16 lanes at most; the others are claimed right after its commit", async () => {
    const lanes = Array.from({ length: 40 }, (_, i) => `lane-${i}`);
    const fake = fakeStore(Object.fromEntries(lanes.map((id) => [id, 1])));
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt, 1_000);
    const within = pump.claimWithin(1);
    await within.claim(noSql, newDeliveries(lanes));
    expect(fake.inSql).toEqual(lanes.slice(0, 16));
    await settle();
    expect(run.tries.size).toBe(0);
    within.start();
    await until(() => run.done.length === 40, "every lane's delivery");
    await pump.close();
    expect(fake.inSql).toHaveLength(16);
  });

  it("a lane with older work waiting is not offered a lease: its claim takes the oldest first", async () => {
    // Two slots per lane in every process: the first claim takes two of six and leaves four waiting.
    const fake = fakeStore({ busy: 6, idle: 1 }, { slots: 2 });
    let release!: () => void;
    const hanging = new Promise<void>((r) => (release = r));
    const attempt = async () => {
      await hanging;
      return { kind: "delivered" } as AttemptDecision;
    };
    const pump = pumpWith(fake.store, attempt, 8);
    pump.nudge(["busy", "idle"]);
    await until(() => fake.claims() >= 1, "the first claim");
    await settle();
    expect(pump.claimWithin(2).lease?.lanes.map((l) => l.subscriptionId)).toEqual(["idle"]);
    release();
    await pump.close();
  });

  it("a claim that leased 40 attempts starts 16 of them in its turn and the rest in the turns after", async () => {
    const fake = fakeStore({ "slow-0": 40 });
    const hanging = new Promise<void>(() => {});
    let started = 0;
    const attempt = async () => {
      started += 1;
      await hanging;
      return { kind: "delivered" } as AttemptDecision;
    };
    const pump = pumpWith(fake.store, attempt, 64, () => 64);
    pump.nudge(["slow-0"]);
    await until(() => started > 0, "the claim's first attempts");
    expect(started).toBe(16);
    await until(() => started === 40, "every attempt the claim leased");
    expect(fake.claims()).toBe(1);
  });

  it("200 lanes at one hanging host hold only that host's budget: a lane elsewhere is served at once", async () => {
    const slow = Array.from({ length: 200 }, (_, i) => `slow-${i}`);
    const fake = fakeStore({ ...Object.fromEntries(slow.map((id) => [id, 3])), healthy: 5 });
    let release!: () => void;
    const hanging = new Promise<void>((r) => (release = r));
    const open = new Map<string, number>();
    let mostAtSlow = 0;
    const done: string[] = [];
    const attempt = async (claimed: ClaimedDelivery, lane: LaneRow) => {
      const host = new URL(lane.url).host;
      open.set(host, (open.get(host) ?? 0) + 1);
      mostAtSlow = Math.max(mostAtSlow, open.get("slow.test") ?? 0);
      if (host === "slow.test") await hanging;
      else await settle(1);
      open.set(host, open.get(host)! - 1);
      done.push(claimed.webhookDeliveryId);
      return { kind: "delivered" } as AttemptDecision;
    };
    // 64 requests in this process, 16 per destination: the 200 slow lanes come first in line.
    const clock = manualClock();
    const pump = pumpWith(fake.store, attempt, 64, () => 16, clock);
    pump.nudge([...slow, "healthy"]);
    await until(() => done.filter((id) => id.startsWith("healthy")).length === 5, "the healthy lane served");
    expect(open.get("slow.test")).toBe(16);
    // The poll does not probe the slow lanes again: each waits in the host's line or has its own attempt in
    // flight, and is claimed for when an attempt to the host ends.
    await pump.poll();
    expect([...fake.skipped.at(-1)!].sort()).toEqual([...slow].sort());
    release();
    // Lanes of a host not heard from yet are claimed for a few at a time, a pause apart (./claim-pacing.ts).
    for (let i = 0; i < 20 && done.length < 605; i++) await clock.advance(MAX_ROUND_PAUSE_MS);
    await until(() => done.length === 605, "every delivery");
    await pump.close();
    // Every slow lane got its turn, never more than the host's budget at once.
    expect(done).toHaveLength(605);
    expect(mostAtSlow).toBe(16);
  });

  it("a host that answered in seconds is claimed for a few lanes per round, a pause apart; other lanes are not held back", async () => {
    const slow = Array.from({ length: 100 }, (_, i) => `slow-${i}`);
    // One delivery per lane in flight at a time (its slots).
    const fake = fakeStore({ ...Object.fromEntries(slow.map((id) => [id, 2])), healthy: 1 }, { slots: 1 });
    const rounds: string[][] = [];
    const claim = fake.store.claim;
    fake.store.claim = (requests, ...rest) => {
      rounds.push(requests.map((r) => r.subscriptionId));
      return claim(requests, ...rest);
    };
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const done: string[] = [];
    const attempt = async (claimed: ClaimedDelivery) => {
      // Every lane's first delivery is answered in the same moment, 8 s after it was sent; the rest at once.
      if (claimed.webhookDeliveryId.endsWith("-1")) await answered;
      else await settle(1);
      done.push(claimed.webhookDeliveryId);
      return { kind: "delivered" } as AttemptDecision;
    };
    const clock = manualClock();
    const pump = pumpWith(fake.store, attempt, 1_000, () => 1_000, clock);
    pump.nudge(slow);
    // A host not heard from yet is claimed for a few lanes a round already.
    for (let i = 0; i < 10 && rounds.flat().length < 100; i++) await clock.advance(MAX_ROUND_PAUSE_MS);
    await until(() => rounds.flat().length === 100, "the first deliveries claimed");
    expect(Math.max(...rounds.map((r) => r.length))).toBe(LANES_PER_SLOW_ROUND);
    await clock.advance(8_000);
    const before = rounds.length;
    answer();
    await until(() => done.length >= 100, "the 8 s answers");
    pump.nudge(["healthy"]);
    // Claimed in the next round, with no time passing: the slow host's waiting lanes do not hold it back.
    await until(() => done.includes("healthy-1"), "the healthy lane served");
    const after = rounds.slice(before);
    expect(Math.max(...after.map((r) => r.filter((id) => id.startsWith("slow-")).length))).toBe(LANES_PER_SLOW_ROUND);
    for (let i = 0; i < 20 && done.length < 201; i++) await clock.advance(MAX_ROUND_PAUSE_MS);
    await until(() => done.length === 201, "every delivery");
    await pump.close();
    // Each lane's second delivery went out, LANES_PER_SLOW_ROUND lanes a round.
    expect(
      new Set(
        rounds
          .slice(before)
          .flat()
          .filter((id) => id.startsWith("slow-")),
      ).size,
    ).toBe(100);
  });

  it("a writer is not offered leases for a host that answers in seconds: its lanes are claimed after the commit", async () => {
    const fake = fakeStore({ "slow-a": 1, "slow-b": 1, healthy: 1 });
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const done: string[] = [];
    const attempt = async (claimed: ClaimedDelivery, lane: LaneRow) => {
      if (lane.url.includes("slow.test")) await answered;
      done.push(claimed.webhookDeliveryId);
      return { kind: "delivered" } as AttemptDecision;
    };
    const clock = manualClock();
    const pump = pumpWith(fake.store, attempt, 64, () => 16, clock);
    pump.nudge(["slow-a", "slow-b", "healthy"]);
    await until(() => done.includes("healthy-1"), "the healthy lane");
    await clock.advance(8_000);
    answer();
    await until(() => done.length === 3, "the slow host's answers");
    await settle();
    // Every lane is known and has nothing waiting; only the healthy one is offered to the writer.
    expect(pump.claimWithin(1).lease?.lanes.map((l) => l.subscriptionId)).toEqual(["healthy"]);
    await pump.close();
  });

  it("a writer is offered a known lane first and INLINE_FAN_OUT lanes at most, however many new lanes a host has", async () => {
    // 200 new subscriptions at a host not heard from yet, and one lane at a host that has answered.
    const crowd = Array.from({ length: 200 }, (_, i) => `slow-${i}`);
    const fake = fakeStore({ healthy: 1 });
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt, 1_000);
    // A writer's fan-out makes the crowd's lanes known first (nothing is due for them: no attempt ends).
    await pump.claimWithin(1).claim(noSql, newDeliveries(crowd));
    pump.nudge(["healthy"]);
    await until(() => run.done.length === 1, "the healthy lane's first delivery");
    const offered = pump.claimWithin(1).lease!.lanes.map((l) => l.subscriptionId);
    // The write carries INLINE_FAN_OUT lanes' deliveries at most (db/fan-out.ts): the known lane is one of them.
    expect(offered).toHaveLength(INLINE_FAN_OUT);
    expect(offered[0]).toBe("healthy");
    await pump.close();
  });

  it("a claim under way holds its room: a writer's claim meanwhile never takes a host past its budget", async () => {
    const slow = Array.from({ length: 40 }, (_, i) => `slow-${i}`);
    const fake = fakeStore(Object.fromEntries(slow.map((id) => [id, 2])));
    const clock = manualClock();
    // Every claim takes 20 ms to answer, as one over many lanes does.
    const claim = fake.store.claim;
    fake.store.claim = async (...args) => {
      await clock.sleep(20);
      return claim(...args);
    };
    let open = 0;
    let most = 0;
    let release!: () => void;
    const hanging = new Promise<void>((r) => (release = r));
    const attempt = async () => {
      most = Math.max(most, ++open);
      await hanging;
      open -= 1;
      return { kind: "delivered" } as AttemptDecision;
    };
    const pump = pumpWith(fake.store, attempt, 1_000, () => 8, clock);
    // The round's claim is under way (5 ms into its 20) when a writer claims for the other lanes.
    pump.nudge(slow.slice(0, 20));
    await clock.advance(5);
    const within = pump.claimWithin(2);
    const claimed = within.claim(noSql, newDeliveries(slow.slice(20)));
    await clock.advance(20);
    await claimed;
    within.start();
    await clock.advance(60);
    expect(most).toBe(8);
    release();
    await pump.close();
  });

  describe("the handover: a busy lane keeps the slots its attempts free, with no claim (docs/delivery.md)", () => {
    /**
     * Attempts recorded as the attempt recorder records them: each one's record asks the pump's handover what
     * its lane may keep, and leases that many from the fake's queue, as the record statement would.
     */
    function recordedWithHandover(fake: ReturnType<typeof fakeStore>, run: ReturnType<typeof attempts>, pump: () => DeliveryPump) {
      let handedOver = 0;
      const attempt = async (claimed: ClaimedDelivery) => {
        const decision = await run.attempt(claimed);
        const { handover } = pump();
        const asked = handover.plan([{ subscriptionId: claimed.subscriptionId, succeeded: decision.kind === "delivered" }]);
        if (asked) {
          const result: ClaimResult = { lanes: [], claimed: [] };
          for (const { subscriptionId, want } of asked.lanes) {
            const taken = (fake.queue.get(subscriptionId) ?? []).splice(0, want);
            if (taken.length === 0) continue;
            result.lanes.push(lane(subscriptionId));
            for (const id of taken)
              result.claimed.push({ ...claimed, webhookDeliveryId: id, eventId: `event-${id}`, leaseToken: asked.leaseToken, subscriptionId });
          }
          handedOver += result.claimed.length;
          handover.started(result);
        }
        return decision;
      };
      return { attempt, handedOver: () => handedOver };
    }

    /** A pump whose attempts are recorded with the handover, over the fake's lanes. */
    function handingOver(
      waiting: Record<string, number>,
      opts: { capacity?: number; destinationLimit?: () => number; decide?: Parameters<typeof attempts>[0] } = {},
    ) {
      const fake = fakeStore(waiting);
      const run = attempts(opts.decide);
      let pump: DeliveryPump | undefined;
      const recorded = recordedWithHandover(fake, run, () => pump!);
      pump = pumpWith(fake.store, recorded.attempt, opts.capacity, opts.destinationLimit);
      return { fake, run, recorded, pump };
    }

    it("a lane with a backlog is served by its first claim and handovers, never more at once than its share", async () => {
      const { fake, run, recorded, pump } = handingOver({ busy: 40 }, { capacity: 4 });
      pump.nudge(["busy"]);
      await until(() => run.done.length === 40, "the backlog");
      await pump.close();
      expect(run.most()).toBe(4);
      expect(recorded.handedOver()).toBe(36);
      // The first claim, and the one after the last handover found nothing left.
      expect(fake.claims()).toBeLessThanOrEqual(2);
    });

    it("an attempt that failed hands nothing over: its lane's next attempts are claimed (the circuit decides there)", async () => {
      const { fake, run, recorded, pump } = handingOver({ flaky: 8 }, { capacity: 2, decide: () => ({ kind: "retry", delayMs: 60_000 }) as AttemptDecision });
      pump.nudge(["flaky"]);
      await until(() => run.tries.size === 8, "every delivery tried once");
      await pump.close();
      expect(recorded.handedOver()).toBe(0);
      expect(fake.claims()).toBeGreaterThanOrEqual(4);
    });

    it("no lane keeps its slots while another waits for its destination's budget: the waiting one is served in turn", async () => {
      // Two lanes at one host whose budget is 2 in this process: the first takes it all, the second waits in line.
      const { run, pump } = handingOver({ "slow-a": 30, "slow-b": 2 }, { capacity: 100, destinationLimit: () => 2 });
      pump.nudge(["slow-a"]);
      await until(() => run.done.length >= 1, "slow-a under way");
      pump.nudge(["slow-b"]);
      await until(() => run.done.length === 32, "both lanes");
      await pump.close();
      // Were slow-a to keep handing its slots over, slow-b would get its turn only once slow-a ran dry.
      const lastOfB = Math.max(run.done.indexOf("slow-b-1"), run.done.indexOf("slow-b-2"));
      expect(lastOfB).toBeLessThan(10);
      expect(run.most()).toBeLessThanOrEqual(2);
    });

    it("a pump that is closing hands nothing over: its attempts under way end, and nothing new starts", async () => {
      const fake = fakeStore({ busy: 10 });
      let release = () => {};
      const hanging = new Promise<void>((r) => (release = r));
      let started = 0;
      const pump = pumpWith(fake.store, async () => {
        started += 1;
        await hanging;
        return { kind: "delivered" } as AttemptDecision;
      });
      pump.nudge(["busy"]);
      await until(() => started === 4, "the first claim's attempts");
      // Open, the busy lane would keep its slots.
      expect(pump.handover.plan([{ subscriptionId: "busy", succeeded: true }])?.lanes).toEqual([{ subscriptionId: "busy", want: 1 }]);
      const closed = pump.close();
      expect(pump.handover.plan([{ subscriptionId: "busy", succeeded: true }])).toBeUndefined();
      release();
      await closed;
      expect(started).toBe(4);
    });
  });

  it("the poll finds lanes nobody nudged", async () => {
    const fake = fakeStore({ quiet: 2 });
    const run = attempts();
    const pump = pumpWith(fake.store, run.attempt);
    await pump.poll();
    await pump.idle();
    await pump.close();
    expect(run.done.sort()).toEqual(["quiet-1", "quiet-2"]);
  });
});
