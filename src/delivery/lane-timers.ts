// One timer per delivery lane, set for the earliest time anybody asked: a retry's time, a rate limiter's next
// slot, a contended claim's second try. When it fires, the pump claims for the lane.
export interface LaneTimers {
  /** Fire for the lane at `at`, unless a timer for it fires sooner already. */
  at(subscriptionId: string, at: Date): void;
  clear(): void;
}

export function createLaneTimers(fire: (subscriptionId: string) => void): LaneTimers {
  const timers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  return {
    at(subscriptionId, at) {
      const existing = timers.get(subscriptionId);
      if (existing && existing.at <= at.getTime()) return;
      if (existing) clearTimeout(existing.timer);
      const timer = setTimeout(
        () => {
          timers.delete(subscriptionId);
          fire(subscriptionId);
        },
        Math.max(1, at.getTime() - Date.now()),
      );
      timer.unref();
      timers.set(subscriptionId, { timer, at: at.getTime() });
    },
    clear() {
      for (const { timer } of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
