// Pure decisions of the delivery pump (delivery/pump.ts), with no I/O: how many deliveries this process asks
// each lane (subscription) for in one claim. Fairness is by destination (the endpoint's origin: scheme, host
// and port), not by lane: 1,000 subscriptions pointing at one host share that host's budget, they do not get
// 1,000 shares. The lane's own limits (in flight in every process, rate, circuit, ordering) are applied by the
// claim itself (db/delivery-lanes.ts). Unit-tested in test/unit/lane-policy.test.ts.
import type { LaneRequest } from "../db/delivery-lanes.js";
import { destinationKey } from "../domain/destinations.js";

export interface Capacity {
  /** This process's requests open at once at most (sockets: a slow answer holds one, nothing scarcer). */
  total: number;
  /** Of them, free now. */
  free: number;
  /** A lane's destination (known for every lane planned). */
  destinationOf: (subscriptionId: string) => string;
  /** A destination's requests open at once at most, in this process (its configured limit). */
  destinationLimit: (destination: string) => number;
  /** Destinations with work in this process (attempts in flight or lanes waiting), at least those planned. */
  activeDestinations: number;
  /** A destination's lanes with work in this process, at least those planned. */
  activeLanesAt: (destination: string) => number;
  /** This process's attempts in flight, per lane and per destination. */
  inFlight: (subscriptionId: string) => number;
  inFlightAt: (destination: string) => number;
}

/** A lane asked for nothing: why, so the pump knows what will ask again. */
export type Deferral = "at-share" | "destination-full" | "process-full";

export interface PlannedClaim extends LaneRequest {
  /** Set when `want` is 0. */
  deferred?: Deferral;
}

/** What a destination may have open in this process now: its limit, and no more than an equal share of the process. */
function destinationBudget(destination: string, capacity: Pick<Capacity, "total" | "destinationLimit" | "activeDestinations">): number {
  const share = Math.max(1, Math.floor(capacity.total / Math.max(1, capacity.activeDestinations)));
  return Math.min(capacity.destinationLimit(destination), share);
}

/**
 * Shares this process's requests max-min fairly, first between destinations, then between a destination's
 * lanes: a destination holds at most its budget (its limit, and while others have work an equal share of the
 * process), and a lane at most an equal share of its destination's budget (at least one). So a slow or
 * hanging host keeps only its own budget however many subscriptions point at it, and every other host always
 * has room. Lanes are served in the order given while room remains.
 */
export function planClaims(subscriptionIds: string[], capacity: Capacity): PlannedClaim[] {
  let free = Math.max(0, capacity.free);
  const planned = new Map<string, number>();
  return subscriptionIds.map((subscriptionId) => {
    const destination = capacity.destinationOf(subscriptionId);
    const budget = destinationBudget(destination, capacity);
    const taken = capacity.inFlightAt(destination) + (planned.get(destination) ?? 0);
    const laneShare = Math.max(1, Math.floor(budget / Math.max(1, capacity.activeLanesAt(destination))));
    const byLane = laneShare - capacity.inFlight(subscriptionId);
    const byDestination = budget - taken;
    const want = Math.max(0, Math.min(byLane, byDestination, free));
    free -= want;
    planned.set(destination, (planned.get(destination) ?? 0) + want);
    if (want > 0) return { subscriptionId, want };
    const deferred: Deferral = byLane <= 0 ? "at-share" : byDestination <= 0 ? "destination-full" : "process-full";
    return { subscriptionId, want, deferred };
  });
}

/** A subscription's destination: its URL's origin (`https://hooks.example.com`), or its broker (domain/destinations.ts). */
export const destinationOf = destinationKey;
