// Time as a dependency: what reads the time or waits for it (the delivery pump, its lane timers, the attempt
// and its recorder) takes a Clock, so that tests hold time still and move it on purpose (test/helpers/
// manual-clock.ts) instead of sleeping and measuring. In production it is the system's clock.

/** A timer that can be cancelled. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fire` once, `ms` from now (never keeps the process alive). */
  timeout(fire: () => void, ms: number): Timer;
  /** Calls `fire` every `ms` (never keeps the process alive). */
  interval(fire: () => void, ms: number): Timer;
  /**
   * The time SQL that compares with `now` should use: null for the database's own `now()` (production, where
   * rows are written with the database's clock), the held time under a test clock.
   */
  databaseNow(): Date | null;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  timeout(fire, ms) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  interval(fire, ms) {
    const timer = setInterval(fire, ms);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
  databaseNow: () => null,
};
