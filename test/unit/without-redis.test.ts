// Progress without Redis (src/workers/without-redis.ts): while the worker's Redis connection is not ready, the
// inbox and the outbox are swept from Postgres on a timer, one sweep at a time; once Redis is ready again the
// sweeps stop (its jobs take over). Time is a manual clock: no wall-clock waits.
import { describe, expect, it } from "vitest";
import { keepGoingWithoutRedis } from "../../src/workers/without-redis.js";
import { capturedLog } from "../helpers/captured-log.js";
import { manualClock, settle } from "../helpers/manual-clock.js";

describe("sweeping from Postgres while Redis is away", () => {
  it("sweeps every interval while the connection is not ready, never two at once, and stops once it is ready", async () => {
    const clock = manualClock();
    const { log } = capturedLog();
    const redis = { status: "ready" };
    let sweeps = 0;
    let running = 0;
    let overlapped = false;
    const loop = keepGoingWithoutRedis({
      redis,
      everyMs: 1_000,
      log,
      clock,
      sweep: async () => {
        sweeps++;
        running++;
        if (running > 1) overlapped = true;
        // A sweep that takes 2.5 s: the ticks in between do not start another.
        await clock.sleep(2_500);
        running--;
      },
    });
    await clock.advance(5_000);
    expect(sweeps).toBe(0); // Redis answers: its jobs do the work

    redis.status = "reconnecting";
    await clock.advance(10_000);
    await settle();
    // Ticks at 6, 7, …, 15 s; a sweep starts at 6 s, ends at 8.5 s, the next starts at 9 s, and so on.
    expect(sweeps).toBe(4);
    expect(overlapped).toBe(false);

    redis.status = "ready";
    await clock.advance(3_000);
    await settle();
    const atReady = sweeps;
    await clock.advance(10_000);
    expect(sweeps).toBe(atReady);
    loop.stop();
  });

  it("a sweep that fails (Postgres away too) is logged as Postgres's and tried again at the next tick", async () => {
    const clock = manualClock();
    const { log, lines } = capturedLog();
    let calls = 0;
    const loop = keepGoingWithoutRedis({
      redis: { status: "connecting" },
      everyMs: 1_000,
      log,
      clock,
      sweep: async () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
      },
    });
    await clock.advance(1_000);
    await settle();
    await clock.advance(1_000);
    await settle();
    expect(calls).toBe(2);
    expect(lines.filter((l) => l.level === 40)).toEqual([expect.objectContaining({ dependency: "postgres" })]);
    loop.stop();
    await clock.advance(5_000);
    expect(calls).toBe(2);
  });

  it("an interval of 0 turns it off", async () => {
    const clock = manualClock();
    const { log } = capturedLog();
    let calls = 0;
    keepGoingWithoutRedis({ redis: { status: "end" }, everyMs: 0, log, clock, sweep: async () => void calls++ });
    await clock.advance(10_000);
    expect(calls).toBe(0);
  });
});
