// Pure decisions of the delivery pump (delivery/pump.ts), with no I/O: how many deliveries this process asks
// each lane (subscription) for in one claim, sharing its slots fairly. The lane's own limits (in flight in
// every process, rate, circuit) are applied by the claim itself, under the lane's lock (db/delivery-lanes.ts).
// Unit-tested in test/unit/lane-policy.test.ts.
import type { LaneRequest } from "../db/delivery-lanes.js";

export interface Capacity {
  /** This process's attempts in flight at most. */
  total: number;
  /** Slots free now. */
  free: number;
  /** Lanes with work in this process: attempts in flight or waiting for a claim (at least the lanes asked for). */
  activeLanes: number;
  /** This process's attempts in flight, per lane. */
  inFlight: (subscriptionId: string) => number;
}

/**
 * Shares this process's slots between lanes max-min fairly: while other lanes have work, a lane holds at most
 * an equal share of all slots (at least one), so a slow or hanging endpoint keeps only its own share and the
 * others' attempts never wait behind it; a lane alone may use every slot (up to its own in-flight limit, which
 * the claim applies). Lanes are served in the order given while free slots remain.
 */
export function planClaims(subscriptionIds: string[], capacity: Capacity): LaneRequest[] {
  let free = Math.max(0, capacity.free);
  const share = Math.max(1, Math.floor(capacity.total / Math.max(1, capacity.activeLanes, subscriptionIds.length)));
  return subscriptionIds.map((subscriptionId) => {
    const want = Math.max(0, Math.min(share - capacity.inFlight(subscriptionId), free));
    free -= want;
    return { subscriptionId, want };
  });
}
