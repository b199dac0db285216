import { describe, expect, it } from "vitest";
import type { LaneRow } from "../../src/db/delivery-lanes.js";
import { advanceTat, circuitOpen, planClaims, rateAllowance, rateTats } from "../../src/delivery/lane-policy.js";

const settings = { circuitAfterFailures: 5, circuitProbeMs: 1_000 };
const now = new Date(1_000_000);
const lane = (id: string, extra: Partial<LaneRow> = {}): LaneRow => ({
  subscriptionId: id,
  url: "http://x",
  secret: "whsec_x",
  previousSecret: null,
  previousSecretExpiresAt: null,
  maxInFlight: 16,
  rateLimitPerSecond: null,
  ordered: false,
  rateTat: null,
  consecutiveFailures: 0,
  ...extra,
});
const capacity = (total: number, free: number, activeLanes: number, inFlight: Record<string, number> = {}) => ({ total, free, activeLanes, inFlight: (id: string) => inFlight[id] ?? 0 });
const wants = (plan: ReturnType<typeof planClaims>) => Object.fromEntries(plan.requests.map((r) => [r.subscriptionId, r.want]));

describe("planClaims: fair shares of a process's slots", () => {
  it("a lane alone may use its whole in-flight limit", () => {
    expect(wants(planClaims([lane("a")], capacity(256, 256, 1), now, settings))).toEqual({ a: 16 });
  });

  it("while others have work, a lane holding its share gets no more slots, whatever its limit", () => {
    // 8 slots, 4 lanes with work: 2 each; the slow lane already holds 2.
    const plan = planClaims([lane("slow", { maxInFlight: 100 }), lane("fast")], capacity(8, 4, 4, { slow: 2 }), now, settings);
    expect(wants(plan)).toEqual({ slow: 0, fast: 2 });
  });

  it("never more than the free slots, nor the lane's own limit", () => {
    expect(wants(planClaims([lane("a", { maxInFlight: 2 }), lane("b")], capacity(100, 3, 2), now, settings))).toEqual({ a: 2, b: 1 });
  });

  it("an open circuit probes one request at a time, at the probe rate", () => {
    const failing = lane("f", { consecutiveFailures: 5 });
    expect(circuitOpen(failing, settings)).toBe(true);
    expect(circuitOpen(failing, { ...settings, circuitAfterFailures: 0 })).toBe(false);
    const first = planClaims([failing], capacity(256, 256, 1), now, settings);
    expect(first.requests[0]).toMatchObject({ want: 1, maxInFlight: 1 });
    // Right after a probe, the next waits a second.
    const next = planClaims([{ ...failing, rateTat: new Date(now.getTime() + 1_000) }], capacity(256, 256, 1), now, settings);
    expect(next.requests[0]!.want).toBe(0);
    expect(next.throttled).toEqual([{ subscriptionId: "f", nextAt: new Date(now.getTime() + 1_000) }]);
  });

  it("carries the ordering mode to the claim", () => {
    expect(planClaims([lane("o", { ordered: true })], capacity(8, 8, 1), now, settings).requests[0]).toMatchObject({ ordered: true });
  });
});

describe("rate limiter (GCRA)", () => {
  it("allows a burst of one second's worth, then one per interval", () => {
    expect(rateAllowance(4, null, now).allowed).toBe(4);
    const afterBurst = advanceTat(4, null, now, 4);
    expect(afterBurst).toEqual(new Date(now.getTime() + 1_000));
    expect(rateAllowance(4, afterBurst, now).allowed).toBe(0);
    expect(rateAllowance(4, afterBurst, now).nextAt).toEqual(new Date(now.getTime() + 250));
    expect(rateAllowance(4, afterBurst, new Date(now.getTime() + 250)).allowed).toBe(1);
  });

  it("a rate under one per second still allows one request, then waits its interval", () => {
    expect(rateAllowance(0.5, null, now).allowed).toBe(1);
    const tat = advanceTat(0.5, null, now, 1);
    expect(rateAllowance(0.5, tat, new Date(now.getTime() + 1_999)).allowed).toBe(0);
    expect(rateAllowance(0.5, tat, new Date(now.getTime() + 2_000)).allowed).toBe(1);
  });

  it("an idle lane does not bank more than its burst", () => {
    expect(rateAllowance(2, new Date(0), now).allowed).toBe(2);
  });

  it("a plan is limited by the rate and says when to come back; the claim's sends advance the limiter", () => {
    const limited = lane("r", { rateLimitPerSecond: 2, rateTat: new Date(now.getTime() + 500) });
    const plan = planClaims([limited], capacity(256, 256, 1), now, settings);
    expect(plan.requests[0]!.want).toBe(1);
    expect(plan.throttled).toHaveLength(1);
    const claimed = [{ subscriptionId: "r" }] as Parameters<typeof rateTats>[1];
    expect(rateTats([limited, lane("free")], claimed, now, settings)).toEqual([{ subscriptionId: "r", rateTat: new Date(now.getTime() + 1_000) }]);
  });
});
