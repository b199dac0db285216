// Timers further away than a Node timer can wait: without the bound, setTimeout(fn, 2^31) fires at once (with
// a TimeoutOverflowWarning), and a lane at the lowest rate limit would be claimed for in a tight loop.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { boundedTimeout, createLaneTimers, MAX_TIMER_MS } from "../../src/delivery/lane-timers.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("bounded timers", () => {
  it("a delay past 2^31-1 ms fires at its time, not at once and not before", () => {
    const fired = vi.fn();
    const day = 24 * 3_600_000;
    boundedTimeout(fired, 40 * day);
    vi.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(40 * day - MAX_TIMER_MS - 2);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("a lane's timer a month away is re-armed, and an earlier one replaces it", () => {
    const fired: string[] = [];
    const timers = createLaneTimers((id) => fired.push(id));
    timers.at("slow", new Date(Date.now() + 30 * 24 * 3_600_000));
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    expect(fired).toEqual([]);
    timers.at("slow", new Date(Date.now() + 10));
    vi.advanceTimersByTime(10);
    expect(fired).toEqual(["slow"]);
    timers.clear();
  });

  it("cancel stops a re-armed timer", () => {
    const fired = vi.fn();
    const timer = boundedTimeout(fired, MAX_TIMER_MS * 2);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    timer.cancel();
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(fired).not.toHaveBeenCalled();
  });
});
