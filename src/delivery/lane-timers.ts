// One timer per delivery lane, set for the earliest time anybody asked: a retry's time, a rate limiter's next
// slot, a contended claim's second try. When it fires, the pump claims for the lane. A time further away than
// a Node timer can wait (2^31-1 ms, about 24.8 days; past it setTimeout fires at once) is waited for in steps.
// Time comes from a Clock (src/lib/clock.ts).
import { type Clock, systemClock, type Timer } from "../lib/clock.js";

export interface LaneTimers {
  /** Fire for the lane at `at`, unless a timer for it fires sooner already. */
  at(subscriptionId: string, at: Date): void;
  clear(): void;
}

/** The longest delay a Node timer honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timeout for any delay: one that is too long for a timer is re-armed until its time comes. */
export function boundedTimeout(fire: () => void, delayMs: number, clock: Clock = systemClock): Timer {
  const due = clock.now() + delayMs;
  let timer: Timer;
  const arm = () => {
    const left = due - clock.now();
    timer = clock.timeout(left > MAX_TIMER_MS ? arm : fire, Math.min(Math.max(1, left), MAX_TIMER_MS));
  };
  arm();
  return { cancel: () => timer.cancel() };
}

export function createLaneTimers(fire: (subscriptionId: string) => void, clock: Clock = systemClock): LaneTimers {
  const timers = new Map<string, { timer: Timer; at: number }>();
  return {
    at(subscriptionId, at) {
      const existing = timers.get(subscriptionId);
      if (existing && existing.at <= at.getTime()) return;
      existing?.timer.cancel();
      const timer = boundedTimeout(
        () => {
          timers.delete(subscriptionId);
          fire(subscriptionId);
        },
        at.getTime() - clock.now(),
        clock,
      );
      timers.set(subscriptionId, { timer, at: at.getTime() });
    },
    clear() {
      for (const { timer } of timers.values()) timer.cancel();
      timers.clear();
    },
  };
}
