// Claims for a slow destination are spread out (delivery/pump.ts). A host that answers in seconds answers a
// batch of requests all at once: every attempt to it ends in the same moment, and a round that claims the next
// attempts for all of its lanes at once (hundreds of subscriptions at one host) makes one burst of claims,
// records and requests on the worker's thread and in Postgres, the same burst again at the next answer, and
// every other lane's work waits behind each burst. Claiming for such a destination a few lanes at a time, a
// short pause apart, costs its attempts a few milliseconds against answers of seconds, and spreads its
// answers out for good. A destination is slow while its recent attempts (an average weighted to the latest)
// took longer than SLOW_ANSWER_MS; a fast one is claimed for in full, as before. A destination not heard from
// yet (no attempt has ended) is claimed for like a slow one until its first answer says how fast it is: a
// thousand new subscriptions at one host start with rounds of a few lanes, not with one claim for all of
// them (whose answers would then come back in one moment, before the host is known to be slow).

import { type Clock, systemClock, type Timer } from "../lib/clock.js";

/** An attempt that takes longer than this, on average lately, makes its destination slow. */
const SLOW_ANSWER_MS = 1_000;
/** Lanes of one slow (or not yet heard from) destination in one claim round at most. */
export const LANES_PER_SLOW_ROUND = 32;
/** Then the destination's other lanes wait this long for the next round. */
export const SLOW_ROUND_PAUSE_MS = 10;
/** The weight of the latest attempt in a destination's average. */
const LATEST_WEIGHT = 0.2;

export interface ClaimPacing {
  /** An attempt to this destination took `ms`, from its start to its answer (or error). */
  observe(destination: string, ms: number): void;
  /** Whether the destination's recent attempts took longer than SLOW_ANSWER_MS on average. */
  slow(destination: string): boolean;
  /**
   * Takes from `lines` (lanes waiting for a claim, in line order) the lanes one round claims for now. Lanes of
   * a slow or not yet heard from destination beyond its round's share wait here, and come back through
   * `resume` after a pause.
   */
  take(lines: Set<string>, limit: number, destinationOf: (lane: string) => string): string[];
  /** Lanes waiting here for a later round. */
  waiting(): Iterable<string>;
  close(): void;
}

export function createClaimPacing(resume: (lanes: string[]) => void, clock: Clock = systemClock): ClaimPacing {
  const answerMs = new Map<string, number>();
  const pausedUntil = new Map<string, number>();
  const paused = new Set<string>();
  let timer: Timer | undefined;
  const slow = (destination: string) => (answerMs.get(destination) ?? 0) > SLOW_ANSWER_MS;
  /** Claimed for a few lanes a round: slow, or not heard from yet. */
  const paced = (destination: string) => !answerMs.has(destination) || slow(destination);
  const pause = (lane: string) => {
    paused.add(lane);
    timer ??= clock.timeout(() => {
      timer = undefined;
      const back = [...paused];
      paused.clear();
      resume(back);
    }, SLOW_ROUND_PAUSE_MS);
  };
  return {
    slow,
    observe(destination, ms) {
      const average = answerMs.get(destination);
      answerMs.set(destination, average === undefined ? ms : average + LATEST_WEIGHT * (ms - average));
    },
    take(lines, limit, destinationOf) {
      const now = clock.now();
      const take: string[] = [];
      const taken = new Map<string, number>();
      for (const lane of lines) {
        if (take.length >= limit) break;
        lines.delete(lane);
        const destination = destinationOf(lane);
        const n = taken.get(destination) ?? 0;
        if (paced(destination) && ((pausedUntil.get(destination) ?? 0) > now || n >= LANES_PER_SLOW_ROUND)) {
          pause(lane);
          continue;
        }
        taken.set(destination, n + 1);
        take.push(lane);
        if (n + 1 === LANES_PER_SLOW_ROUND && paced(destination)) pausedUntil.set(destination, now + SLOW_ROUND_PAUSE_MS);
      }
      for (const [destination, until] of pausedUntil) if (until <= now) pausedUntil.delete(destination);
      return take;
    },
    waiting: () => paused,
    close() {
      timer?.cancel();
      paused.clear();
    },
  };
}
