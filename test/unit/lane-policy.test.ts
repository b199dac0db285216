import { describe, expect, it } from "vitest";
import { planClaims } from "../../src/delivery/lane-policy.js";

const capacity = (total: number, free: number, activeLanes: number, inFlight: Record<string, number> = {}) => ({
  total,
  free,
  activeLanes,
  inFlight: (id: string) => inFlight[id] ?? 0,
});
const wants = (requests: ReturnType<typeof planClaims>) => Object.fromEntries(requests.map((r) => [r.subscriptionId, r.want]));

describe("planClaims: fair shares of a process's slots", () => {
  it("a lane alone may ask for every free slot (its own limit is the claim's to apply)", () => {
    expect(wants(planClaims(["a"], capacity(256, 256, 1)))).toEqual({ a: 256 });
  });

  it("while others have work, a lane holding its share asks for nothing more", () => {
    // 8 slots, 4 lanes with work: 2 each; the slow lane already holds 2, the fast one none.
    expect(wants(planClaims(["slow", "fast"], capacity(8, 4, 4, { slow: 2 })))).toEqual({ slow: 0, fast: 2 });
  });

  it("a lane under its share asks for the rest of it", () => {
    expect(wants(planClaims(["a"], capacity(8, 5, 2, { a: 1, b: 2 })))).toEqual({ a: 3 });
  });

  it("never more than the free slots, served in order", () => {
    expect(wants(planClaims(["a", "b", "c"], capacity(6, 3, 3)))).toEqual({ a: 2, b: 1, c: 0 });
  });

  it("more lanes than slots: each lane's share is still at least one", () => {
    expect(wants(planClaims(["a", "b"], capacity(4, 2, 10)))).toEqual({ a: 1, b: 1 });
  });
});
