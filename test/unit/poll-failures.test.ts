// What a failed poll does, decided without a database: the store is a fake of the small interface
// recordPollFailure takes. (polling.test.ts and tracking-tells.test.ts run the same paths for real.)
import pino from "pino";
import { describe, expect, it } from "vitest";
import { type PolledItem, type PollFailureStore, recordPollFailure } from "../../src/pipeline/polling/failures.js";
import { ProviderError } from "../../src/providers/provider-error.js";

const log = pino({ level: "silent" });
const settings = { intervalMs: 60_000, pauseMs: 300_000, ceilingMs: 3_600_000, staleAfterMs: 86_400_000 };

function fakeStore(alreadyStopped = false) {
  const calls = { paused: [] as [string, number][], updates: [] as Record<string, unknown>[], stops: [] as { reason: string; message: string }[] };
  const store: PollFailureStore = {
    pauseProvider: async (provider, ms) => {
      calls.paused.push([provider, ms]);
      return new Date(Date.now() + ms);
    },
    updatePollState: async (_provider, _key, change) => {
      calls.updates.push({ ...change });
    },
    stop: async ({ reason, message }) => {
      calls.stops.push({ reason, message });
      return !alreadyStopped;
    },
  };
  return { store, calls };
}

const item = (over: Partial<PolledItem> = {}): PolledItem => ({
  provider: "mfb",
  key: "order-1",
  failures: 2,
  notFoundReason: "not_found",
  authMessage: "credentials refused",
  ...over,
});

describe("recordPollFailure", () => {
  it("refused credentials pause the whole provider and push the item to the pause's end", async () => {
    const { store, calls } = fakeStore();
    const outcome = await recordPollFailure({ store, log, settings }, item(), new ProviderError("auth", 401, "bad login"));
    expect(outcome.kind).toBe("paused");
    expect(calls.paused).toEqual([["mfb", 300_000]]);
    expect(calls.updates).toEqual([{ nextPollAt: (outcome as { until: Date }).until, lastError: "bad login" }]);
    expect(calls.stops).toEqual([]);
  });

  it("an item that is not ours stops as access_denied; one the provider does not know, as not_found or gone", async () => {
    const forbidden = fakeStore();
    expect(await recordPollFailure({ store: forbidden.store, log, settings }, item(), new ProviderError("forbidden", 403, "not yours"))).toEqual({
      kind: "stopped",
      reason: "access_denied",
      newEvents: 1,
    });
    expect(forbidden.calls.stops[0]!.message).toMatch(/MyFlyingBox refuses us this item \(not yours\)/);

    const unknown = fakeStore();
    await recordPollFailure({ store: unknown.store, log, settings }, item({ provider: "greenflow" }), new ProviderError("not_found", 404, "no booking"));
    expect(unknown.calls.stops).toEqual([{ reason: "not_found", message: "GreenFlow does not know this item (no booking)" }]);

    const gone = fakeStore(true);
    expect(
      await recordPollFailure(
        { store: gone.store, log, settings },
        item({ provider: "greenflow", notFoundReason: "gone" }),
        new ProviderError("not_found", 404, "x"),
      ),
    ).toEqual({ kind: "stopped", reason: "gone", newEvents: 0 });
  });

  it("a 429 waits its Retry-After (a minute without one) and counts no failure", async () => {
    const { store, calls } = fakeStore();
    const before = Date.now();
    expect(await recordPollFailure({ store, log, settings }, item(), new ProviderError("rate_limited", 429, "slow down", 5_000))).toEqual({
      kind: "rate_limited",
      retryAfterMs: 5_000,
    });
    expect(await recordPollFailure({ store, log, settings }, item(), new ProviderError("rate_limited", 429, "slow down"))).toEqual({
      kind: "rate_limited",
      retryAfterMs: 60_000,
    });
    const next = calls.updates.map((u) => (u.nextPollAt as Date).getTime() - before);
    expect(next[0]).toBeGreaterThanOrEqual(5_000);
    expect(next[0]).toBeLessThan(60_000);
    expect(calls.updates.every((u) => !("consecutiveFailures" in u))).toBe(true);
  });

  it("an outage or an unreadable answer counts a failure and backs off from the interval", async () => {
    const { store, calls } = fakeStore();
    expect(await recordPollFailure({ store, log, settings }, item({ failures: 2 }), new ProviderError("transient", 503, "down"))).toEqual({
      kind: "failed",
      error: "down",
      failures: 3,
    });
    expect(await recordPollFailure({ store, log, settings }, item({ failures: 0 }), new ProviderError("unexpected", 422, "odd"))).toMatchObject({
      failures: 1,
    });
    const [third, first] = calls.updates as { consecutiveFailures: number; lastPolledAt: Date; nextPollAt: Date }[];
    expect(third!.consecutiveFailures).toBe(3);
    // Three failures wait longer than one.
    expect(third!.nextPollAt.getTime() - third!.lastPolledAt.getTime()).toBeGreaterThan(first!.nextPollAt.getTime() - first!.lastPolledAt.getTime());
  });
});
