// A claim inside a writer's transaction (the Flovi drain's): the leases its fan-out may take as it writes the
// deliveries (db/fan-out.ts), then a claim of the lanes whose new deliveries it did not lease; every attempt
// starts once the transaction committed, none if it rolled back. The delivery pump (./pump.ts) lends it its
// books: what it may offer, the room it holds, its fair shares and its claim.
import { randomUUID } from "node:crypto";
import type { ClaimResult, ClaimSettings, LaneRequest } from "../db/delivery-lanes.js";
import type { LeasedAttempt } from "../db/fan-out.js";
import type { Sql } from "../db/sql.js";
import type { ClaimWithin } from "./pump-types.js";

export interface WriterClaimDeps {
  /** Per lane, what the fan-out of a write of `events` events may lease (nothing when the pump is closed). */
  offer(events: number): LaneRequest[];
  /** Holds room for these requests in the pump's books until the returned function is called. */
  reserve(requests: LaneRequest[]): () => void;
  /** This process's fair share for each of these lanes (the others wait their turn). */
  plan(lanes: string[]): Promise<LaneRequest[]>;
  claim(requests: LaneRequest[], leaseToken: string, settings: ClaimSettings, sql: Sql): Promise<ClaimResult>;
  claimSettings(): ClaimSettings;
  /** Starts an attempt the fan-out leased. */
  startLeased(leased: LeasedAttempt): void;
  /** Starts what a claim leased. */
  started(requests: LaneRequest[], result: ClaimResult): void;
  /** Claim for whatever else has work. */
  kick(): void;
  /** These lanes have work: claim for them soon. */
  nudge(lanes: string[]): void;
}

/**
 * Lanes claimed inside the writer's transaction at most. A claim over many lanes (a webhook fanned out to 1,000
 * subscriptions) would hold back the commit, and with it every attempt the write leased: the others are
 * claimed right after the commit, by the pump's own rounds.
 */
const MAX_LANES_IN_TRANSACTION = 16;

export function writerClaim(deps: WriterClaimDeps, events: number): ClaimWithin {
  const offered = deps.offer(events);
  // Held until the claim settles: no other claim of this process plans with this room.
  let release = deps.reserve(offered);
  let leased: LeasedAttempt[] = [];
  let claimed: { requests: LaneRequest[]; result: ClaimResult } | undefined;
  let lanes: string[] = [];
  let afterCommit: string[] = [];
  let settled = false;
  const settle = () => {
    if (settled) return false;
    settled = true;
    release();
    return true;
  };
  const hold = (requests: LaneRequest[]) => {
    const before = release;
    const now = deps.reserve(requests);
    release = () => {
      before();
      now();
    };
  };
  return {
    lease: offered.length > 0 ? { lanes: offered, leaseToken: randomUUID(), settings: deps.claimSettings() } : undefined,
    async claim(sql, deliveries) {
      // What the fan-out leased stays held; the rest of the offer goes back before the other lanes are planned.
      leased = deliveries.flatMap((d) => (d.leased ? [d.leased] : []));
      const perLane = new Map<string, number>();
      for (const l of leased) perLane.set(l.lane.subscriptionId, (perLane.get(l.lane.subscriptionId) ?? 0) + 1);
      release();
      release = () => {};
      hold([...perLane].map(([subscriptionId, want]) => ({ subscriptionId, want })));
      lanes = [...new Set(deliveries.filter((d) => d.status === "pending" && !d.leased).map((d) => d.subscriptionId))];
      const planned = lanes.length === 0 ? [] : await deps.plan(lanes);
      const requests = planned.slice(0, MAX_LANES_IN_TRANSACTION);
      afterCommit = planned.slice(MAX_LANES_IN_TRANSACTION).map((r) => r.subscriptionId);
      if (requests.length === 0) return;
      hold(requests);
      claimed = { requests, result: await deps.claim(requests, randomUUID(), deps.claimSettings(), sql) };
    },
    start() {
      if (!settle()) return;
      for (const l of leased) deps.startLeased(l);
      if (claimed) deps.started(claimed.requests, claimed.result);
      if (afterCommit.length > 0) deps.nudge(afterCommit);
      deps.kick();
    },
    abandon() {
      if (settle()) deps.nudge(lanes);
    },
  };
}
