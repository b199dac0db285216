// The delivery pump: every attempt (first, retry, re-send) takes one path in one of any number of workers:
//   claim    lease due deliveries of the lanes that have work (db/delivery-lanes.ts), as many as each
//            lane's in-flight limit, rate limit and ordering mode allow, and a fair share of this process's
//            requests: by destination first (the endpoint's origin), then by lane (delivery/lane-policy.ts)
//   send     sign and POST (delivery/deliver.ts), a few per turn of the event loop (delivery/launcher.ts)
//   decide   pure: delivered, retry after a delay, throttled (429) or failed for good (delivery/decisions.ts)
//   record   the attempt, the delivery's new state and its lease's end (group commit), which releases the
//            next delivery of the subject in ordered mode, and hands a busy lane's freed slots to its next
//            due deliveries when nobody else waits for room (./slot-handover.ts), with no claim
// The backlog lives in Postgres: this process holds only what it has in flight, and a slow host only its own budget of
// open requests, however many subscriptions point at it, claimed a few lanes at a time when it is slow or new
// (./claim-pacing.ts). The Flovi inbox's first attempts are leased by the drain's own write, or claimed in its
// transaction (`claimWithin`, ./writer-claim.ts), and start the moment it commits. Otherwise a lane is claimed for when
// something says it has work: the relay (`nudge`), an attempt of this process ending while the lane had more (or,
// ordered, releasing the next of its subject), its rate limiter's next slot or its retry's time, and a poll every
// DELIVERY_POLL_INTERVAL_MS (other processes' work, leases that ran out).
import { randomUUID } from "node:crypto";
import type { ClaimedDelivery, ClaimResult, LaneRequest, LaneRow } from "../db/delivery-lanes.js";
import { INLINE_FAN_OUT } from "../db/fan-out.js";
import { createClaimPacing } from "./claim-pacing.js";
import { createLaneTimers } from "./lane-timers.js";
import { systemClock } from "../lib/clock.js";
import type { DeliveryPump, PumpDeps } from "./pump-types.js";
import { slotHandover } from "./slot-handover.js";
import { type Deferral, destinationOf, planClaims } from "./lane-policy.js";
import { createLedger } from "./pump-ledger.js";
import { createLauncher } from "./launcher.js";
import { type WriterClaimDeps, writerClaim } from "./writer-claim.js";

const LEASE_MARGIN_MS = 15_000;
/** Retry a lane whose claim another process held after this long (ms). */
const CONTENDED_RETRY_MS = 5;
/** Lanes asked for in one claim at most (the rest stay in line for the next round, which follows at once). */
const MAX_LANES_PER_CLAIM = 200;

export function createDeliveryPump(deps: PumpDeps): DeliveryPump {
  const { store, log, settings } = deps;
  const clock = deps.clock ?? systemClock;
  // A lease outlives any attempt (its timeout) and its record by a wide margin (LEASE_MARGIN_MS): only a process that died (or
  // lost its database for that long) lets one run out, and then any worker attempts the delivery again.
  const leaseMs = deps.attemptTimeoutMs + LEASE_MARGIN_MS;
  const dirty = new Set<string>();
  /** Lanes whose last claim got all it asked for: more may be waiting once a slot frees. */
  const more = new Set<string>();
  const ledger = createLedger(settings.destinationLimit);
  const timers = createLaneTimers((subscriptionId) => nudge([subscriptionId]), clock);
  const attempts = new Set<Promise<void>>();
  const launcher = createLauncher();
  const pacing = createClaimPacing((lanes) => nudge(lanes), clock);
  let claiming: Promise<void> | undefined;
  let polling: Promise<void> | undefined;
  let closed = false;

  const pollTimer = clock.interval(() => {
    if (!polling) polling = poll().finally(() => (polling = undefined));
  }, settings.pollIntervalMs);

  /** Claim for the lane at `at` (the earliest of the times asked for). */
  const later = (subscriptionId: string, at: Date) => void (closed || timers.at(subscriptionId, at));

  function nudge(ids: Iterable<string>) {
    if (closed) return;
    for (const id of ids) dirty.add(id);
    kick();
  }

  function kick() {
    if (claiming || closed || dirty.size === 0 || ledger.total >= settings.capacity) return;
    claiming = claimRound()
      .catch((error: unknown) => log.warn({ err: error }, "delivery claim failed; the next poll retries"))
      .finally(() => {
        claiming = undefined;
        kick();
      });
  }

  /** Learns the destinations of lanes not seen yet; lanes that may not send now (inactive, paused) are dropped. */
  async function known(lanes: string[]): Promise<string[]> {
    const unknown = lanes.filter((id) => !ledger.known(id));
    if (unknown.length > 0) for (const lane of await store.activeLanes(unknown)) ledger.learn(lane.subscriptionId, lane.url);
    return lanes.filter((id) => ledger.known(id));
  }

  /** This process's fair share for each lane (delivery/lane-policy.ts); lanes that get none wait their turn. */
  function plan(lanes: string[]): LaneRequest[] {
    const planned = planClaims(lanes, ledger.capacity(lanes, settings.capacity, settings.capacity - ledger.total));
    for (const p of planned) if (p.deferred) defer(p.subscriptionId, p.deferred);
    return planned.filter((p) => p.want > 0);
  }

  /** A lane that got nothing this round: who will ask for it again. */
  function defer(id: string, why: Deferral) {
    // At its share with attempts of its own in flight: one of them ending asks again.
    if (why === "at-share" && ledger.hasOpen(id)) more.add(id);
    // Its destination's budget is used up: an attempt to that destination ending lets it in, in turn.
    else if (why !== "process-full") ledger.wait(id);
    // Every request of this process is open: any attempt ending asks again.
    else dirty.add(id);
  }

  const { circuitAfterFailures, circuitProbeMs } = settings;
  // `now`: the database's own, unless a test clock holds the time.
  const claimSettings = () => ({ leaseMs, circuitAfterFailures, circuitProbeMs, now: clock.databaseNow() ?? undefined });

  /** Starts what a claim leased, and notes per lane whether more may be waiting. */
  function started(requests: LaneRequest[], result: ClaimResult) {
    const got = new Map<string, number>();
    for (const c of result.claimed) got.set(c.subscriptionId, (got.get(c.subscriptionId) ?? 0) + 1);
    for (const lane of result.lanes) {
      ledger.learn(lane.subscriptionId, lane.url);
      // Took all it could (its share here, its free slots in every process, its rate): more may be waiting,
      // so one of its attempts ending asks again. Took less: nothing more was due.
      if ((got.get(lane.subscriptionId) ?? 0) >= lane.room) more.add(lane.subscriptionId);
      else more.delete(lane.subscriptionId);
      if (lane.nextAt) later(lane.subscriptionId, lane.nextAt);
    }
    const lanesById = new Map(result.lanes.map((l) => [l.subscriptionId, l]));
    for (const claimed of result.claimed) start(claimed, lanesById.get(claimed.subscriptionId)!);
    // Lanes the claim skipped: a rate-limited lane whose limiter another claim held (ask again soon), or
    // disabled, deleted or paused (the poll finds them when they have due work again).
    const skipped = requests.map((r) => r.subscriptionId).filter((id) => !lanesById.has(id));
    if (skipped.length === 0) return;
    store.activeLanes(skipped).then(
      (lanes) => {
        for (const lane of lanes) later(lane.subscriptionId, new Date(clock.now() + CONTENDED_RETRY_MS));
      },
      (error: unknown) => log.warn({ err: error }, "could not look up skipped lanes; the next poll finds them"),
    );
  }

  async function claimRound() {
    // Round robin: lanes not served this round stay first in line for the next (a slow or new destination's
    // lanes beyond its round's share wait in ./claim-pacing.ts and join the end of the line after its pause).
    await known([...dirty]); // new lanes' destinations first: 1,000 new lanes at one host are paced as one
    const lanes = pacing.take(dirty, Math.min(settings.capacity - ledger.total, MAX_LANES_PER_CLAIM), ledger.destinationOf);
    const requests = plan(await known(lanes));
    if (requests.length === 0) return;
    const release = reserve(requests);
    let result: ClaimResult;
    try {
      result = await store.claim(requests, randomUUID(), claimSettings());
    } finally {
      release();
    }
    started(requests, result);
  }

  /** Holds what a claim asks for until it answers (or its transaction ends): no other claim plans with that room. */
  function reserve(requests: LaneRequest[]): () => void {
    const held = requests.map((r) => ({ lane: r.subscriptionId, destination: ledger.destinationOf(r.subscriptionId), n: r.want }));
    for (const h of held) ledger.open(h.lane, h.destination, h.n);
    return () => {
      for (const h of held) ledger.open(h.lane, h.destination, -h.n);
      for (const h of held) for (const id of ledger.admit(h.destination)) dirty.add(id);
    };
  }

  /**
   * What a writer's fan-out may lease itself (db/fan-out.ts): this process's fair share for INLINE_FAN_OUT known
   * lanes at most, quick destinations' first (1,000 new lanes at one host never push a known one out). Left out:
   * a lane with older work waiting (its claim takes oldest first), a lane whose destination has lanes in line
   * for its budget (they go first), a slow destination's (claimed for after the commit, a few at a time).
   */
  function offer(events: number): LaneRequest[] {
    const free = ledger.offerable().filter((id) => !more.has(id));
    const lanes = pacing.quickFirst(free, ledger.destinationOf, INLINE_FAN_OUT);
    if (closed || events <= 0 || lanes.length === 0) return [];
    const planned = planClaims(lanes, ledger.capacity(lanes, settings.capacity, settings.capacity - ledger.total));
    // A lane gets at most one delivery per event written: no more room is held than the write can use.
    return planned.filter((p) => p.want > 0).map(({ subscriptionId, want }) => ({ subscriptionId, want: Math.min(want, events) }));
  }

  const writer: WriterClaimDeps = {
    offer,
    reserve,
    plan: async (lanes) => (closed ? [] : plan(await known(lanes))),
    claim: (...args) => store.claim(...args),
    claimSettings,
    startLeased(leased) {
      ledger.learn(leased.lane.subscriptionId, leased.lane.url);
      start(leased.claimed, leased.lane);
    },
    started,
    kick,
    nudge,
  };

  function start(claimed: ClaimedDelivery, lane: LaneRow) {
    const destination = destinationOf(lane.url);
    ledger.open(lane.subscriptionId, destination, 1);
    // Counted as open at once (limits stay exact); sent when the launcher's turn comes (./launcher.ts).
    const running: Promise<void> = new Promise<void>((launch) => launcher.launch(destination, launch))
      .then(() => attempt(claimed, lane, destination))
      .catch((error: unknown) =>
        log.warn({ err: error, webhookDeliveryId: claimed.webhookDeliveryId }, "delivery attempt not recorded; its lease runs out and it is attempted again"),
      )
      .finally(() => {
        attempts.delete(running);
        ledger.open(lane.subscriptionId, destination, -1);
        if (more.has(lane.subscriptionId)) dirty.add(lane.subscriptionId);
        for (const id of ledger.admit(destination)) dirty.add(id);
        kick();
      });
    attempts.add(running);
  }

  async function attempt(claimed: ClaimedDelivery, lane: LaneRow, destination: string) {
    const began = clock.now();
    const decision = await deps.attempt(claimed, lane).finally(() => pacing.observe(destination, clock.now() - began));
    if (decision.kind === "retry" || decision.kind === "throttled") later(lane.subscriptionId, new Date(clock.now() + decision.delayMs));
    // Ordered mode: the record released the next delivery of this subject, due now.
    else if (lane.ordered) dirty.add(lane.subscriptionId);
  }

  async function poll() {
    if (closed) return;
    try {
      // Not probed: lanes this process will claim for anyway, those in a destination's line (admitted as its
      // attempts end) and those at their share with attempts of their own in flight (one ending asks again).
      const skip = [...ledger.waiting(), ...pacing.waiting(), ...[...more].filter((id) => ledger.hasOpen(id))];
      nudge(await store.lanesWithDueWork(skip));
    } catch (error) {
      log.warn({ err: error }, "could not look for due deliveries; the next poll retries");
    }
  }

  async function idle() {
    for (;;) {
      const pending = [claiming, polling, ...attempts].filter(Boolean);
      if (pending.length === 0) break;
      await Promise.allSettled(pending);
    }
    await deps.recorded();
  }

  return {
    nudge,
    handover: slotHandover({ ledger, pacing, capacity: settings.capacity, dirty, more, claimSettings, start, closed: () => closed }),
    claimWithin: (events) => writerClaim(writer, events),
    poll,
    idle,
    async close() {
      closed = true;
      pollTimer.cancel();
      timers.clear();
      pacing.close();
      await idle();
    },
  };
}
