// Reconciliation's decisions, without a database or an HTTP server: the store and the client are fakes of
// the two small interfaces it takes. (flovi-reconciliation.test.ts runs it for real against both.)
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { FloviClient, FloviReservation } from "../../src/providers/flovi/client.js";
import { type ReconcileStore, reconcileReservations } from "../../src/pipeline/flovi/reconcile.js";
import { ProviderError } from "../../src/providers/provider-error.js";

const log = pino({ level: "silent" });

function fakeStore(candidates: string[], pausedUntil: Date | null = null) {
  const calls = { lookedUp: [] as [string, string | undefined][], applied: [] as [string, string | undefined][], paused: [] as ProviderError[] };
  const store: ReconcileStore = {
    pausedUntil: async () => pausedUntil,
    pause: async (error) => {
      calls.paused.push(error);
      return new Date(Date.now() + (error.retryAfterMs ?? 60_000));
    },
    candidates: async () => candidates,
    markLookedUp: async (id, reason) => {
      calls.lookedUp.push([id, reason]);
    },
    applyApiState: async (id, _found, mapped) => {
      calls.applied.push([id, mapped]);
      return mapped ? { events: [], deliveries: [] } : null;
    },
  };
  return { store, calls };
}

/** A client whose answer per reservation is a reservation or a ProviderError. */
function fakeClient(answers: Record<string, FloviReservation | ProviderError>): FloviClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    enabled: true,
    asked,
    async getReservation(id) {
      asked.push(id);
      const answer = answers[id];
      if (!answer) throw new Error(`no answer for ${id}`);
      if (answer instanceof ProviderError) throw answer;
      return answer;
    },
    listReservations: async () => ({ data: [], nextStart: null }),
  };
}

const found = (id: string, status: string): FloviReservation => ({ reservationId: id, status });
const failure = (kind: ProviderError["kind"], status: number, code: string, retryAfterMs: number | null = null) =>
  new ProviderError(kind, status, `${code} said Flovi`, retryAfterMs, { code, correlationId: `c-${status}` });

describe("reconcileReservations", () => {
  it("applies each found state (mapped to webhook terms) and counts what moved", async () => {
    const { store, calls } = fakeStore(["1", "2", "3"]);
    const committed: unknown[] = [];
    const client = fakeClient({ "1": found("1", "driving"), "2": found("2", "CONFIRMED"), "3": found("3", "something_new") });
    const result = await reconcileReservations({ store, client, log, silentForMs: 1, onCommitted: (c) => committed.push(c) });
    expect(calls.applied).toEqual([
      ["1", "driving"],
      ["2", "created"],
      ["3", undefined],
    ]);
    expect(result).toEqual({ checked: 3, updated: 2, skipped: 0, stopped: 0 });
    expect(committed).toHaveLength(2);
  });

  it("skips a forbidden reservation, stops looking up an unknown one for good, retries other failures later", async () => {
    const { store, calls } = fakeStore(["403", "404", "500", "ok"]);
    const client = fakeClient({
      "403": failure("forbidden", 403, "FORBIDDEN"),
      "404": failure("not_found", 404, "NOT_FOUND"),
      "500": failure("transient", 500, "INTERNAL"),
      ok: found("ok", "sealed"),
    });
    const result = await reconcileReservations({ store, client, log, silentForMs: 1 });
    expect(result).toEqual({ checked: 4, updated: 1, skipped: 1, stopped: 1 });
    expect(calls.lookedUp).toEqual([
      ["403", undefined],
      ["404", "NOT_FOUND: NOT_FOUND said Flovi"],
      ["500", undefined],
    ]);
    expect(calls.applied).toEqual([["ok", "sealed"]]);
  });

  it("a 429 pauses every Flovi call for its Retry-After and ends the run; the rest wait", async () => {
    const { store, calls } = fakeStore(["1", "2", "3"]);
    const client = fakeClient({ "1": found("1", "taken"), "2": failure("rate_limited", 429, "TOO_MANY_REQUESTS", 30_000), "3": found("3", "sealed") });
    const result = await reconcileReservations({ store, client, log, silentForMs: 1 });
    expect(client.asked).toEqual(["1", "2"]);
    expect(calls.paused.map((e) => e.retryAfterMs)).toEqual([30_000]);
    expect(result).toMatchObject({ checked: 1, stoppedBy: "TOO_MANY_REQUESTS", pausedUntil: expect.any(Date) });
  });

  it("a refused key ends the run without touching the reservation", async () => {
    const { store, calls } = fakeStore(["1", "2"]);
    const client = fakeClient({ "1": failure("auth", 401, "UNAUTHORIZED"), "2": found("2", "taken") });
    const result = await reconcileReservations({ store, client, log, silentForMs: 1 });
    expect(result).toEqual({ checked: 0, updated: 0, skipped: 0, stopped: 0, stoppedBy: "UNAUTHORIZED" });
    expect(calls.lookedUp).toEqual([]);
    expect(client.asked).toEqual(["1"]);
  });

  it("while paused, asks Flovi nothing", async () => {
    const until = new Date(Date.now() + 10_000);
    const { store } = fakeStore(["1"], until);
    const client = fakeClient({ "1": found("1", "taken") });
    expect(await reconcileReservations({ store, client, log, silentForMs: 1 })).toMatchObject({ checked: 0, stoppedBy: "RATE_LIMITED", pausedUntil: until });
    expect(client.asked).toEqual([]);
  });

  it("with no API key configured, does nothing at all", async () => {
    const { store, calls } = fakeStore(["1"]);
    const client = { ...fakeClient({}), enabled: false };
    expect(await reconcileReservations({ store, client, log, silentForMs: 1 })).toEqual({ checked: 0, updated: 0, skipped: 0, stopped: 0 });
    expect(calls.lookedUp).toEqual([]);
  });
});
