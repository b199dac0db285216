// Claims for a slow destination are spread out (delivery/pump.ts). A host that answers in seconds answers a
// batch of requests all at once: every attempt to it ends in the same moment, and a round that claims the next
// attempts for all of its lanes at once (hundreds of subscriptions at one host) makes one burst of claims,
// records and requests on the worker's thread and in Postgres, the same burst again at the next answer, and
// every other lane's work waits behind each burst. Claiming for such a destination a few lanes at a time, a
// pause apart, spreads its requests, and so its answers and the claims and requests that follow them, for
// good. The pause grows with the host's answer time (a 64th of it, 10 to 250 ms): a host answering in 8 s
// gets its 256 requests over a second, not in one burst of 80 ms, and each of its attempts starts at most a
// 64th of its answer time later than it could. A destination is slow while its recent attempts (an average
// weighted to the latest) took longer than SLOW_ANSWER_MS; a fast one is claimed for in full, as before. A
// destination not heard from yet (no attempt has ended) is claimed for like a slow one, NEW_ROUND_PAUSE_MS
// apart, until its first answer says how fast it is (a quick one brings its waiting lanes back at once): a
// thousand new subscriptions at one host start with rounds of a few lanes, not with one claim for all of them
// (whose answers would then come back in one moment, before the host is known to be slow).

import { type Clock, systemClock, type Timer } from "../lib/clock.js";

/** An attempt that takes longer than this, on average lately, makes its destination slow. */
const SLOW_ANSWER_MS = 1_000;
/** Lanes of one slow (or not yet heard from) destination in one claim round at most. */
export const LANES_PER_SLOW_ROUND = 32;
/** Then a slow destination's other lanes wait at least this long for the next round. */
export const SLOW_ROUND_PAUSE_MS = 10;
/** A destination not heard from yet: the pause between its rounds, until its first answer. */
export const NEW_ROUND_PAUSE_MS = 50;
/** A slow destination's pause is its answer time divided by this, SLOW_ROUND_PAUSE_MS to MAX_ROUND_PAUSE_MS. */
export const ANSWER_TIME_PER_PAUSE = 64;
/** The longest pause between a slow destination's rounds. */
export const MAX_ROUND_PAUSE_MS = 250;
/** The weight of the latest attempt in a destination's average. */
const LATEST_WEIGHT = 0.2;

export interface ClaimPacing {
  /** An attempt to this destination took `ms`, from its start to its answer (or error). */
  observe(destination: string, ms: number): void;
  /** Whether the destination's recent attempts took longer than SLOW_ANSWER_MS on average. */
  slow(destination: string): boolean;
  /** The pause between the destination's rounds (ms). */
  pauseMs(destination: string): number;
  /**
   * Up to `limit` lanes: those of destinations known to answer quickly, then those of destinations not heard
   * from yet, each in the order given; a slow destination's are left out (what a writer may lease: ./pump.ts).
   */
  quickFirst(lanes: string[], destinationOf: (lane: string) => string, limit: number): string[];
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
  /** Per destination, the lanes waiting for its next round and the timer that brings them back. */
  const paused = new Map<string, { lanes: Set<string>; timer: Timer }>();
  const slow = (destination: string) => (answerMs.get(destination) ?? 0) > SLOW_ANSWER_MS;
  /** Claimed for a few lanes a round: slow, or not heard from yet. */
  const paced = (destination: string) => !answerMs.has(destination) || slow(destination);
  const pauseMs = (destination: string) => {
    const ms = answerMs.get(destination);
    if (ms === undefined) return NEW_ROUND_PAUSE_MS;
    return Math.min(MAX_ROUND_PAUSE_MS, Math.max(SLOW_ROUND_PAUSE_MS, Math.round(ms / ANSWER_TIME_PER_PAUSE)));
  };
  const pause = (lane: string, destination: string, now: number) => {
    const entry = paused.get(destination);
    if (entry) {
      entry.lanes.add(lane);
      return;
    }
    const until = pausedUntil.get(destination) ?? now;
    const timer = clock.timeout(
      () => {
        const back = paused.get(destination);
        paused.delete(destination);
        if (back) resume([...back.lanes]);
      },
      Math.max(0, until - now),
    );
    paused.set(destination, { lanes: new Set([lane]), timer });
  };
  return {
    slow,
    pauseMs,
    quickFirst(lanes, destinationOf, limit) {
      const quick = lanes.filter((lane) => !paced(destinationOf(lane)));
      return [...quick, ...lanes.filter((lane) => !answerMs.has(destinationOf(lane)))].slice(0, limit);
    },
    observe(destination, ms) {
      const average = answerMs.get(destination);
      answerMs.set(destination, average === undefined ? ms : average + LATEST_WEIGHT * (ms - average));
      // Its first answer says it is fast: the lanes waiting for its next round need not wait.
      const waiting = paused.get(destination);
      if (waiting && average === undefined && !paced(destination)) {
        waiting.timer.cancel();
        paused.delete(destination);
        pausedUntil.delete(destination);
        resume([...waiting.lanes]);
      }
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
          pause(lane, destination, now);
          continue;
        }
        taken.set(destination, n + 1);
        take.push(lane);
        if (n + 1 === LANES_PER_SLOW_ROUND && paced(destination)) pausedUntil.set(destination, now + pauseMs(destination));
      }
      for (const [destination, until] of pausedUntil) if (until <= now) pausedUntil.delete(destination);
      return take;
    },
    waiting: () => [...paused.values()].flatMap((entry) => [...entry.lanes]),
    close() {
      for (const entry of paused.values()) entry.timer.cancel();
      paused.clear();
    },
  };
}
