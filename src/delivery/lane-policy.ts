// Pure decisions of the delivery pump (delivery/pump.ts), with no I/O: how many deliveries each lane
// (subscription) may lease in one claim, given this process's free capacity, the lane's in-flight limit,
// its rate limit and whether its circuit is open. Unit-tested in test/unit/lane-policy.test.ts.
import type { ClaimedDelivery, LaneRequest, LaneRow } from "../db/delivery-lanes.js";

export interface LanePolicySettings {
  /** A lane whose last N attempts all failed probes its endpoint one request at a time (0: never). */
  circuitAfterFailures: number;
  /** While the circuit is open, one probe per this many ms. */
  circuitProbeMs: number;
}

/** Requests per second a lane may send now: its own limit, or the probe rate while its circuit is open. */
export function effectiveRate(lane: Pick<LaneRow, "rateLimitPerSecond" | "consecutiveFailures">, settings: LanePolicySettings): number | null {
  const probing = circuitOpen(lane, settings) ? 1000 / settings.circuitProbeMs : null;
  if (probing === null) return lane.rateLimitPerSecond;
  return lane.rateLimitPerSecond === null ? probing : Math.min(probing, lane.rateLimitPerSecond);
}

export function circuitOpen(lane: Pick<LaneRow, "consecutiveFailures">, settings: LanePolicySettings): boolean {
  return settings.circuitAfterFailures > 0 && lane.consecutiveFailures >= settings.circuitAfterFailures;
}

/**
 * Generic cell rate algorithm: a lane at `rate` requests per second, with a burst of one second's worth
 * (at least one request). `tat` is the theoretical arrival time the lane's row keeps. Returns how many
 * requests may start at `now`, and when the next one may start if none can.
 */
export function rateAllowance(rate: number, tat: Date | null, now: Date): { allowed: number; nextAt: Date } {
  const interval = 1000 / rate;
  const burst = Math.max(1, Math.floor(rate));
  const start = Math.max(tat?.getTime() ?? 0, now.getTime());
  const allowed = Math.max(0, Math.floor((now.getTime() + burst * interval - start) / interval + 1e-9));
  return { allowed, nextAt: new Date(start - burst * interval + interval) };
}

/** The lane's next theoretical arrival time after `sent` requests at `now`. */
export function advanceTat(rate: number, tat: Date | null, now: Date, sent: number): Date {
  return new Date(Math.max(tat?.getTime() ?? 0, now.getTime()) + (sent * 1000) / rate);
}

export interface LanePlan {
  requests: LaneRequest[];
  /** Lanes held back by their rate limit, and when a request may start again. */
  throttled: { subscriptionId: string; nextAt: Date }[];
}

export interface Capacity {
  /** This process's attempts in flight at most. */
  total: number;
  /** Slots free now. */
  free: number;
  /** Lanes with work in this process: attempts in flight or waiting for a claim (at least the lanes planned). */
  activeLanes: number;
  /** This process's attempts in flight, per lane. */
  inFlight: (subscriptionId: string) => number;
}

/**
 * Shares this process's slots between the lanes max-min fairly: while other lanes have work, a lane holds at
 * most an equal share of all slots (at least one), so a slow or hanging endpoint keeps only its own share and
 * the others' attempts never wait behind it; a lane alone may use every slot. Within that, never more than
 * the lane's in-flight limit (one while its circuit is open) or what its rate allows. The database enforces
 * the in-flight limit across processes; this keeps one process's slots from going to a single lane.
 */
export function planClaims(lanes: LaneRow[], capacity: Capacity, now: Date, settings: LanePolicySettings): LanePlan {
  const requests: LaneRequest[] = [];
  const throttled: LanePlan["throttled"] = [];
  let free = Math.max(0, capacity.free);
  const share = Math.max(1, Math.floor(capacity.total / Math.max(1, capacity.activeLanes, lanes.length)));
  for (const lane of lanes) {
    const open = circuitOpen(lane, settings);
    const maxInFlight = open ? 1 : lane.maxInFlight;
    let want = Math.max(0, Math.min(share - capacity.inFlight(lane.subscriptionId), maxInFlight, free));
    const rate = effectiveRate(lane, settings);
    if (rate !== null && want > 0) {
      const { allowed, nextAt } = rateAllowance(rate, lane.rateTat, now);
      if (allowed < want) throttled.push({ subscriptionId: lane.subscriptionId, nextAt: allowed === 0 ? nextAt : new Date(now.getTime() + 1000 / rate) });
      want = Math.min(want, allowed);
    }
    free -= want;
    requests.push({ subscriptionId: lane.subscriptionId, want, maxInFlight, ordered: lane.ordered });
  }
  return { requests, throttled };
}

/** The rate limiters to store after a claim: one per rate-limited lane that leased anything. */
export function rateTats(lanes: LaneRow[], claimed: ClaimedDelivery[], now: Date, settings: LanePolicySettings): { subscriptionId: string; rateTat: Date }[] {
  const sent = new Map<string, number>();
  for (const c of claimed) sent.set(c.subscriptionId, (sent.get(c.subscriptionId) ?? 0) + 1);
  return lanes.flatMap((lane) => {
    const rate = effectiveRate(lane, settings);
    const n = sent.get(lane.subscriptionId) ?? 0;
    return rate !== null && n > 0 ? [{ subscriptionId: lane.subscriptionId, rateTat: advanceTat(rate, lane.rateTat, now, n) }] : [];
  });
}
