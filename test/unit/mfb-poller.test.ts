// One MFB poll's orchestration, without a database or an HTTP server: the store and the client are fakes of
// the small interfaces pollMfbOrder takes. (polling.test.ts and provider-fidelity.test.ts run it for real.)
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { PollFailureStore, PollOutcome } from "../../src/pipeline/polling/failures.js";
import { type MfbPollStore, pollMfbOrder } from "../../src/pipeline/polling/mfb-poller.js";
import type { MfbClient, MfbOrderDetails, MfbTracking } from "../../src/providers/mfb/client.js";
import { ProviderError } from "../../src/providers/provider-error.js";

const log = pino({ level: "silent" });
const settings = { intervalMs: 60_000, pauseMs: 300_000, ceilingMs: 3_600_000, staleAfterMs: 86_400_000 };
const polled: PollOutcome = { kind: "polled", newEvents: 1, status: "in_transit", final: false };

function fakeStore(order: { active: boolean; detailsFetchedAt: Date | null } | null, pausedUntil: Date | null = null) {
  const calls = { deferred: [] as Date[], details: [] as MfbOrderDetails[], applied: 0, paused: 0, stops: [] as string[] };
  const failures: PollFailureStore = {
    pauseProvider: async (_p, ms) => {
      calls.paused += 1;
      return new Date(Date.now() + ms);
    },
    updatePollState: async () => undefined,
    stop: async ({ reason }) => {
      calls.stops.push(reason);
      return true;
    },
  };
  const store: MfbPollStore = {
    order: async () => (order ? { ...order, consecutiveFailures: 0 } : null),
    pausedUntil: async () => pausedUntil,
    pollNotBefore: async (_id, at) => {
      calls.deferred.push(at);
    },
    saveDetails: async (_id, details) => {
      calls.details.push(details);
    },
    applyTracking: async () => {
      calls.applied += 1;
      return polled;
    },
    failures,
  };
  return { store, calls };
}

function fakeClient(opts: {
  tracking?: MfbTracking | ProviderError;
  order?: MfbOrderDetails | ProviderError;
  credentialsWork?: boolean;
}): MfbClient & { asked: string[] } {
  const asked: string[] = [];
  const answer = <T>(value: T | ProviderError | undefined, what: string): T => {
    asked.push(what);
    if (value instanceof ProviderError) throw value;
    if (value === undefined) throw new Error(`no ${what}`);
    return value;
  };
  return {
    asked,
    getTracking: async () => answer(opts.tracking, "tracking"),
    getOrder: async () => answer(opts.order, "order"),
    checkCredentials: async () => answer(opts.credentialsWork, "credentials"),
  } as MfbClient & { asked: string[] };
}

const tracking: MfbTracking = { parcels: [], skipped: 0 };
const details: MfbOrderDetails = { parcelCount: 1, carrier: "ups", product: "ups_standard", productName: "UPS Standard", price: null };

describe("pollMfbOrder", () => {
  it("reads the order's details once, then its tracking, and applies it", async () => {
    const fresh = fakeStore({ active: true, detailsFetchedAt: null });
    const client = fakeClient({ tracking, order: details });
    expect(await pollMfbOrder({ store: fresh.store, client, log, settings }, "o-1")).toEqual(polled);
    expect(client.asked).toEqual(["order", "tracking"]);
    expect(fresh.calls.details).toEqual([details]);
    expect(fresh.calls.applied).toBe(1);

    const known = fakeStore({ active: true, detailsFetchedAt: new Date() });
    const again = fakeClient({ tracking, order: details });
    await pollMfbOrder({ store: known.store, client: again, log, settings }, "o-1");
    expect(again.asked).toEqual(["tracking"]);
  });

  it("a passing failure to read the details does not stop the tracking", async () => {
    const { store, calls } = fakeStore({ active: true, detailsFetchedAt: null });
    const client = fakeClient({ tracking, order: new ProviderError("transient", 503, "busy") });
    expect(await pollMfbOrder({ store, client, log, settings }, "o-1")).toEqual(polled);
    expect(calls.details).toEqual([]);
  });

  it("skips an unknown or stopped order, and defers every order while MFB is paused", async () => {
    expect(await pollMfbOrder({ store: fakeStore(null).store, client: fakeClient({}), log, settings }, "o-1")).toEqual({ kind: "skipped", reason: "unknown" });
    expect(await pollMfbOrder({ store: fakeStore({ active: false, detailsFetchedAt: null }).store, client: fakeClient({}), log, settings }, "o-1")).toEqual({
      kind: "skipped",
      reason: "inactive",
    });
    const until = new Date(Date.now() + 60_000);
    const paused = fakeStore({ active: true, detailsFetchedAt: new Date() }, until);
    const client = fakeClient({ tracking });
    expect(await pollMfbOrder({ store: paused.store, client, log, settings }, "o-1")).toEqual({ kind: "paused", until });
    expect(paused.calls.deferred).toEqual([until]);
    expect(client.asked).toEqual([]);
  });

  it("access_denied: our credentials working means the order is not ours (stop); refused means pause MFB", async () => {
    const denied = new ProviderError("access_denied", 403, "access_denied");
    const notOurs = fakeStore({ active: true, detailsFetchedAt: new Date() });
    expect(await pollMfbOrder({ store: notOurs.store, client: fakeClient({ tracking: denied, credentialsWork: true }), log, settings }, "o-1")).toMatchObject({
      kind: "stopped",
      reason: "access_denied",
    });
    expect(notOurs.calls.paused).toBe(0);

    const refused = fakeStore({ active: true, detailsFetchedAt: new Date() });
    expect(await pollMfbOrder({ store: refused.store, client: fakeClient({ tracking: denied, credentialsWork: false }), log, settings }, "o-1")).toMatchObject({
      kind: "paused",
    });
    expect(refused.calls.paused).toBe(1);
    expect(refused.calls.stops).toEqual([]);
  });
});
