import { describe, expect, it } from "vitest";
import { destinationOf, planClaims, type Capacity } from "../../src/delivery/lane-policy.js";

/** Lanes named `<host>/<name>`: the destination is the part before the slash. */
const capacity = (opts: { total: number; free: number; limit?: number; inFlight?: Record<string, number>; lanesAt?: Record<string, number> }): Capacity => {
  const inFlight = opts.inFlight ?? {};
  const host = (id: string) => id.split("/")[0]!;
  const lanesAt = opts.lanesAt ?? {};
  return {
    total: opts.total,
    free: opts.free,
    destinationOf: host,
    destinationLimit: () => opts.limit ?? opts.total,
    activeDestinations: Math.max(1, new Set([...Object.keys(inFlight).map(host), ...Object.keys(lanesAt)]).size),
    activeLanesAt: (d) => lanesAt[d] ?? 1,
    inFlight: (id) => inFlight[id] ?? 0,
    inFlightAt: (d) => Object.entries(inFlight).reduce((n, [id, k]) => n + (host(id) === d ? k : 0), 0),
  };
};
const wants = (requests: ReturnType<typeof planClaims>) => Object.fromEntries(requests.map((r) => [r.subscriptionId, r.want]));

describe("planClaims: fair by destination, then by lane", () => {
  it("a lane alone may ask for every free request of its destination (its own limit is the claim's to apply)", () => {
    expect(wants(planClaims(["h/a"], capacity({ total: 256, free: 256 })))).toEqual({ "h/a": 256 });
  });

  it("a destination never gets more than its limit, however many lanes point at it", () => {
    // 1,000 lanes at one slow host, its limit 8, 6 of them holding one request each: 2 more, then nothing.
    const inFlight = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`slow/${i}`, 1]));
    const lanes = Array.from({ length: 10 }, (_, i) => `slow/${100 + i}`);
    const planned = planClaims(lanes, capacity({ total: 2048, free: 2042, limit: 8, inFlight, lanesAt: { slow: 1000 } }));
    expect(planned.reduce((n, p) => n + p.want, 0)).toBe(2);
    expect(planned.slice(2).every((p) => p.want === 0 && p.deferred === "destination-full")).toBe(true);
  });

  it("a healthy host keeps its whole budget beside a host holding its own to the full", () => {
    const inFlight = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`slow/${i}`, 1]));
    const planned = planClaims(["slow/9", "fast/a"], capacity({ total: 2048, free: 2040, limit: 8, inFlight, lanesAt: { slow: 1000, fast: 1 } }));
    expect(wants(planned)).toEqual({ "slow/9": 0, "fast/a": 8 });
  });

  it("while other destinations have work, a destination holds at most an equal share of the process", () => {
    // 8 requests, 2 destinations with work: 4 each, however many lanes each has.
    const planned = planClaims(["a/1", "a/2", "b/1"], capacity({ total: 8, free: 8, lanesAt: { a: 50, b: 1 } }));
    expect(wants(planned)).toEqual({ "a/1": 1, "a/2": 1, "b/1": 4 });
  });

  it("within a destination a lane holding its share asks for nothing more (its own attempts ending ask again)", () => {
    const planned = planClaims(["h/slow", "h/fast"], capacity({ total: 8, free: 4, inFlight: { "h/slow": 4 }, lanesAt: { h: 2 } }));
    expect(wants(planned)).toEqual({ "h/slow": 0, "h/fast": 4 });
    expect(planned[0]!.deferred).toBe("at-share");
  });

  it("never more than the process's free requests, served in order", () => {
    const planned = planClaims(["a/1", "b/1", "c/1"], capacity({ total: 6, free: 3, lanesAt: { a: 1, b: 1, c: 1 } }));
    expect(wants(planned)).toEqual({ "a/1": 2, "b/1": 1, "c/1": 0 });
    expect(planned[2]!.deferred).toBe("process-full");
  });

  it("a destination is the URL's origin: scheme, host and port", () => {
    expect(destinationOf("https://Hooks.Example.com/a/b?x=1")).toBe("https://hooks.example.com");
    expect(destinationOf("https://hooks.example.com:443/other")).toBe("https://hooks.example.com");
    expect(destinationOf("http://hooks.example.com:8080/a")).toBe("http://hooks.example.com:8080");
  });
});
