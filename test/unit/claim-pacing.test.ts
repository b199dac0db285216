import { describe, expect, it } from "vitest";
import {
  ANSWER_TIME_PER_PAUSE,
  createClaimPacing,
  LANES_PER_SLOW_ROUND,
  MAX_ROUND_PAUSE_MS,
  NEW_ROUND_PAUSE_MS,
  SLOW_ROUND_PAUSE_MS,
} from "../../src/delivery/claim-pacing.js";
import { manualClock } from "../helpers/manual-clock.js";

const SLOW = "http://slow.example:8080";
const FAST = "http://fast.example";

/** `n` lanes named `<prefix>-<i>` at `destination`. */
const lanesAt = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const destinationOf = (lane: string) => (lane.startsWith("slow") ? SLOW : FAST);

function pacingWithClock() {
  const clock = manualClock();
  const resumed: string[][] = [];
  const pacing = createClaimPacing((lanes) => resumed.push(lanes), clock);
  return { clock, resumed, pacing };
}

describe("claim pacing", () => {
  it("claims for every lane of a destination that answers quickly in one round, up to the limit", () => {
    const { pacing } = pacingWithClock();
    for (let i = 0; i < 5; i++) pacing.observe(SLOW, 40);
    const line = new Set(lanesAt("slow", 150));
    expect(pacing.take(line, 100, destinationOf)).toEqual(lanesAt("slow", 100));
    // What the limit left stays in line, first, for the next round.
    expect([...line]).toEqual(lanesAt("slow", 150).slice(100));
    expect([...pacing.waiting()]).toEqual([]);
  });

  it("claims for a destination not heard from yet a few lanes per round, until its first answer says it is fast", async () => {
    const { clock, resumed, pacing } = pacingWithClock();
    const line = new Set(lanesAt("fast", 100));
    // Nothing is known of the host: one round's share, the rest back after the pause. It is not slow, though
    // (a writer may still lease its first attempts).
    expect(pacing.take(line, 200, destinationOf)).toEqual(lanesAt("fast", LANES_PER_SLOW_ROUND));
    expect(pacing.slow(FAST)).toBe(false);
    await clock.advance(NEW_ROUND_PAUSE_MS);
    expect(resumed).toEqual([lanesAt("fast", 100).slice(LANES_PER_SLOW_ROUND)]);
    // Its first answer came quickly: the rest are claimed for in one round.
    pacing.observe(FAST, 30);
    expect(pacing.take(new Set(resumed[0]), 200, destinationOf)).toEqual(lanesAt("fast", 100).slice(LANES_PER_SLOW_ROUND));
  });

  it("brings a new destination's waiting lanes back at its first quick answer, before the pause is over", () => {
    const { resumed, pacing } = pacingWithClock();
    pacing.take(new Set(lanesAt("fast", 100)), 200, destinationOf);
    expect(resumed).toEqual([]);
    // A slow first answer changes nothing: its lanes wait for the pause.
    pacing.observe(SLOW, 8_000);
    expect(resumed).toEqual([]);
    pacing.observe(FAST, 30);
    expect(resumed).toEqual([lanesAt("fast", 100).slice(LANES_PER_SLOW_ROUND)]);
    expect([...pacing.waiting()]).toEqual([]);
  });

  it("takes a few lanes of a slow destination per round and brings the rest back after a pause", async () => {
    const { clock, resumed, pacing } = pacingWithClock();
    pacing.observe(SLOW, 8_000);
    const line = new Set([...lanesAt("slow", 100), ...lanesAt("fast", 3)]);

    const taken = pacing.take(line, 200, destinationOf);
    // The slow host's round share, and every lane of the other destination, in line order.
    expect(taken).toEqual([...lanesAt("slow", LANES_PER_SLOW_ROUND), ...lanesAt("fast", 3)]);
    expect(line.size).toBe(0);
    expect([...pacing.waiting()]).toEqual(lanesAt("slow", 100).slice(LANES_PER_SLOW_ROUND));

    // Within the pause another round takes none of the slow host's lanes, and still the others'.
    const again = new Set(["slow-extra", "fast-extra"]);
    expect(pacing.take(again, 200, destinationOf)).toEqual(["fast-extra"]);

    // A host answering in 8 s pauses a 64th of that between rounds: its 256 requests go out over a second.
    const pauseMs = 8_000 / ANSWER_TIME_PER_PAUSE;
    expect(pacing.pauseMs(SLOW)).toBe(pauseMs);
    await clock.advance(pauseMs - 1);
    expect(resumed).toEqual([]);
    await clock.advance(1);
    expect(resumed).toEqual([[...lanesAt("slow", 100).slice(LANES_PER_SLOW_ROUND), "slow-extra"]]);
    expect([...pacing.waiting()]).toEqual([]);

    // After the pause the next share goes out.
    const next = new Set(resumed[0]);
    expect(pacing.take(next, 200, destinationOf)).toHaveLength(LANES_PER_SLOW_ROUND);
  });

  it("pauses longer between the rounds of a slower host, within bounds, and each host's lanes come back after its own pause", async () => {
    const { clock, resumed, pacing } = pacingWithClock();
    const SLOWER = "http://slower.example";
    const NEW = "http://new.example";
    const at = (lane: string) => (lane.startsWith("slow-") ? SLOW : lane.startsWith("slower-") ? SLOWER : NEW);
    pacing.observe(SLOW, 2_000);
    pacing.observe(SLOWER, 60_000);
    // Just past the slow threshold and far past it: the pause follows the answer time, 10 to 250 ms.
    expect(pacing.pauseMs(SLOW)).toBe(Math.round(2_000 / ANSWER_TIME_PER_PAUSE));
    expect(pacing.pauseMs(SLOWER)).toBe(MAX_ROUND_PAUSE_MS);
    expect(pacing.pauseMs(NEW)).toBe(NEW_ROUND_PAUSE_MS);
    pacing.observe("http://barely.example", 1_100);
    expect(pacing.pauseMs("http://barely.example")).toBe(Math.round(1_100 / ANSWER_TIME_PER_PAUSE));

    const line = new Set([...lanesAt("slow", 40), ...lanesAt("slower", 40), ...lanesAt("new", 40)]);
    expect(pacing.take(line, 500, at)).toHaveLength(3 * LANES_PER_SLOW_ROUND);
    await clock.advance(pacing.pauseMs(SLOW));
    expect(resumed).toEqual([lanesAt("slow", 40).slice(LANES_PER_SLOW_ROUND)]);
    await clock.advance(NEW_ROUND_PAUSE_MS - pacing.pauseMs(SLOW));
    expect(resumed.at(-1)).toEqual(lanesAt("new", 40).slice(LANES_PER_SLOW_ROUND));
    await clock.advance(MAX_ROUND_PAUSE_MS - NEW_ROUND_PAUSE_MS - 1);
    expect(resumed).toHaveLength(2);
    await clock.advance(1);
    expect(resumed.at(-1)).toEqual(lanesAt("slower", 40).slice(LANES_PER_SLOW_ROUND));
    expect([...pacing.waiting()]).toEqual([]);
  });

  it("treats a destination by its recent answers: fast again once they are", () => {
    const { pacing } = pacingWithClock();
    expect(pacing.slow(SLOW)).toBe(false);
    pacing.observe(SLOW, 8_000);
    expect(pacing.slow(SLOW)).toBe(true);
    expect(pacing.take(new Set(lanesAt("slow", 40)), 200, destinationOf)).toHaveLength(LANES_PER_SLOW_ROUND);
    // One quick answer does not undo a run of slow ones; a run of quick ones does.
    pacing.observe(SLOW, 20);
    expect(pacing.slow(SLOW)).toBe(true);
    for (let i = 0; i < 30; i++) pacing.observe(SLOW, 20);
    expect(pacing.slow(SLOW)).toBe(false);
    expect(pacing.take(new Set(lanesAt("slow", 40)), 200, destinationOf)).toHaveLength(40);
  });

  it("drops what waits when closed", async () => {
    const { clock, resumed, pacing } = pacingWithClock();
    pacing.observe(SLOW, 8_000);
    pacing.take(new Set(lanesAt("slow", 40)), 200, destinationOf);
    pacing.close();
    await clock.advance(SLOW_ROUND_PAUSE_MS * 2);
    expect(resumed).toEqual([]);
    expect([...pacing.waiting()]).toEqual([]);
  });
});
