// One timer per delivery lane, set for the earliest time anybody asked: a retry's time, a rate limiter's next
// slot, a contended claim's second try. When it fires, the pump claims for the lane. A time further away than
// a Node timer can wait (2^31-1 ms, about 24.8 days; past it setTimeout fires at once) is waited for in steps.
export interface LaneTimers {
  /** Fire for the lane at `at`, unless a timer for it fires sooner already. */
  at(subscriptionId: string, at: Date): void;
  clear(): void;
}

/** The longest delay a Node timer honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** setTimeout for any delay: one that is too long for a timer is re-armed until its time comes. */
export function boundedTimeout(fire: () => void, delayMs: number, now: () => number = Date.now): { cancel(): void } {
  const due = now() + delayMs;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = due - now();
    timer = setTimeout(left > MAX_TIMER_MS ? arm : fire, Math.min(Math.max(1, left), MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

export function createLaneTimers(fire: (subscriptionId: string) => void): LaneTimers {
  const timers = new Map<string, { timer: { cancel(): void }; at: number }>();
  return {
    at(subscriptionId, at) {
      const existing = timers.get(subscriptionId);
      if (existing && existing.at <= at.getTime()) return;
      existing?.timer.cancel();
      const timer = boundedTimeout(() => {
        timers.delete(subscriptionId);
        fire(subscriptionId);
      }, at.getTime() - Date.now());
      timers.set(subscriptionId, { timer, at: at.getTime() });
    },
    clear() {
      for (const { timer } of timers.values()) timer.cancel();
      timers.clear();
    },
  };
}
