// Timers further away than a Node timer can wait: without the bound, setTimeout(fn, 2^31) fires at once (with
// a TimeoutOverflowWarning), and a lane at the lowest rate limit would be claimed for in a tight loop. The
// timers run on a manual clock, which also refuses nothing: the bound is the code's, not the clock's.
import { describe, expect, it } from "vitest";
import { boundedTimeout, createLaneTimers, MAX_TIMER_MS } from "../../src/delivery/lane-timers.js";
import type { Clock } from "../../src/lib/clock.js";
import { manualClock } from "../helpers/manual-clock.js";

/** A manual clock that records every delay asked of it. */
function recording() {
  const clock = manualClock();
  const asked: number[] = [];
  const timeout: Clock["timeout"] = (fire, ms) => {
    asked.push(ms);
    return clock.timeout(fire, ms);
  };
  return { clock: { ...clock, timeout }, advance: clock.advance, asked };
}

describe("bounded timers", () => {
  it("a delay past 2^31-1 ms fires at its time, not at once and not before, and never asks a timer for more", async () => {
    const { clock, advance, asked } = recording();
    let fired = 0;
    const day = 24 * 3_600_000;
    boundedTimeout(() => (fired += 1), 40 * day, clock);
    await advance(1);
    expect(fired).toBe(0);
    await advance(MAX_TIMER_MS);
    expect(fired).toBe(0);
    await advance(40 * day - MAX_TIMER_MS - 2);
    expect(fired).toBe(0);
    await advance(1);
    expect(fired).toBe(1);
    expect(Math.max(...asked)).toBe(MAX_TIMER_MS);
  });

  it("a lane's timer a month away is re-armed, and an earlier one replaces it", async () => {
    const { clock, advance } = recording();
    const fired: string[] = [];
    const timers = createLaneTimers((id) => fired.push(id), clock);
    timers.at("slow", new Date(clock.now() + 30 * 24 * 3_600_000));
    await advance(MAX_TIMER_MS + 5);
    expect(fired).toEqual([]);
    timers.at("slow", new Date(clock.now() + 10));
    await advance(9);
    expect(fired).toEqual([]);
    await advance(1);
    expect(fired).toEqual(["slow"]);
    timers.clear();
  });

  it("cancel stops a re-armed timer", async () => {
    const { clock, advance } = recording();
    let fired = 0;
    const timer = boundedTimeout(() => (fired += 1), MAX_TIMER_MS * 2, clock);
    await advance(MAX_TIMER_MS + 1);
    timer.cancel();
    await advance(MAX_TIMER_MS * 2);
    expect(fired).toBe(0);
  });
});
