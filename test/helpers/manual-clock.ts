// A clock that moves only when a test says so (src/lib/clock.ts): timers fire in time order as `advance` passes
// their time, each followed by whatever work it started (promise callbacks and I/O callbacks run between).
import type { Clock, Timer } from "../../src/lib/clock.js";

export interface ManualClock extends Clock {
  /** Moves time on by `ms`, firing every timer that comes due on the way, in order, letting each one's work run. */
  advance(ms: number): Promise<void>;
  /** A promise that resolves `ms` from now on this clock (a stand-in for work that takes time). */
  sleep(ms: number): Promise<void>;
}

/** Lets pending promise and I/O callbacks run: a few turns of the event loop, no wall-clock wait. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Turns the event loop until `condition` holds (at most `turns` times): for work that needs no time to pass. */
export async function until(condition: () => boolean, what: string, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`not reached without time passing: ${what}`);
}

export function manualClock(start = Date.UTC(2026, 11, 3, 12)): ManualClock {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; every: number | null; fire: () => void }>();
  const add = (fire: () => void, ms: number, every: number | null): Timer => {
    const id = nextId++;
    timers.set(id, { at: now + Math.max(0, ms), every, fire });
    return { cancel: () => timers.delete(id) };
  };
  const clock: ManualClock = {
    now: () => now,
    timeout: (fire, ms) => add(fire, ms, null),
    interval: (fire, ms) => add(fire, ms, Math.max(1, ms)),
    databaseNow: () => new Date(now),
    async advance(ms) {
      const end = now + ms;
      await settle();
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!due) break;
        const [id, timer] = due;
        now = Math.max(now, timer.at);
        if (timer.every === null) timers.delete(id);
        else timer.at += timer.every;
        timer.fire();
        await settle();
      }
      now = end;
      await settle();
    },
    sleep: (ms) => new Promise<void>((resolve) => add(resolve, ms, null)),
  };
  return clock;
}
