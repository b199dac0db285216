// What a failed poll does to its item (and, for credentials, to its whole provider). Shared by the pollers.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { pauseProvider } from "../../db/provider-state.js";
import { withTransaction } from "../../db/sql.js";
import { updatePollState, type TrackedKind } from "../../db/tracked-items.js";
import type { TrackingStopReason } from "../../domain/tracking-stop.js";
import type { ProviderError } from "../../providers/provider-error.js";
import { nextPollDelayMs } from "./schedule.js";
import { stopTracking } from "./stop.js";

export interface PollSettings {
  intervalMs: number;
  pauseMs: number;
  /** Quiet items wait longer each poll, up to this. */
  ceilingMs: number;
  /** MFB: an order whose tracking has not moved for this long stops. */
  staleAfterMs: number;
}

export type PollOutcome =
  | { kind: "skipped"; reason: string }
  | { kind: "polled"; newEvents: number; status: string | null; final: boolean; undocumented?: boolean }
  | { kind: "paused"; until: Date }
  /** Polling ended short of a final status; `tracking_stopped` was written (newEvents: 1, or 0 when already stopped). */
  | { kind: "stopped"; reason: TrackingStopReason; newEvents: number }
  | { kind: "failed"; error: string; failures: number }
  | { kind: "rate_limited"; retryAfterMs: number };

export interface PolledItem {
  provider: TrackedKind;
  key: string;
  /** Consecutive failures before this one. */
  failures: number;
  /** When the provider says the item does not exist: `not_found`, or `gone` for what it showed before. */
  notFoundReason: Extract<TrackingStopReason, "not_found" | "gone">;
  /** The loud line logged when the provider refuses our credentials. */
  authMessage: string;
}

const PROVIDER_NAME: Record<TrackedKind, string> = { mfb: "MyFlyingBox", greenflow: "GreenFlow" };

type PollStateChange = Parameters<typeof updatePollState>[3];

/** What a failed poll changes, and nothing more: a unit test gives it a fake, the pollers `pollFailureStore(db)`. */
export interface PollFailureStore {
  /** Pauses every poll of the provider for `ms`; answers until when. */
  pauseProvider(provider: TrackedKind, ms: number, reason: string): Promise<Date>;
  updatePollState(provider: TrackedKind, key: string, change: PollStateChange): Promise<void>;
  /** Stops polling the item and writes its `tracking_stopped` event, in one transaction; false when it was stopped already. */
  stop(input: { kind: TrackedKind; key: string; reason: TrackingStopReason; message: string; lastError: string | null }): Promise<boolean>;
}

export function pollFailureStore(db: Database): PollFailureStore {
  return {
    pauseProvider: (provider, ms, reason) => pauseProvider(db, provider, ms, reason),
    updatePollState: (provider, key, change) => updatePollState(db, provider, key, change),
    stop: (input) => withTransaction(db, (sql) => stopTracking(sql, input)),
  };
}

export async function recordPollFailure(
  deps: { store: PollFailureStore; log: Logger; settings: PollSettings },
  item: PolledItem,
  error: ProviderError,
): Promise<PollOutcome> {
  const { store, log, settings } = deps;
  const update = (change: PollStateChange) => store.updatePollState(item.provider, item.key, change);
  const stop = async (reason: TrackingStopReason, message: string): Promise<PollOutcome> => {
    const stopped = await store.stop({ kind: item.provider, key: item.key, reason, message, lastError: error.message.slice(0, 500) });
    log.warn({ provider: item.provider, item: item.key, reason }, "polling stopped");
    return { kind: "stopped", reason, newEvents: stopped ? 1 : 0 };
  };
  const now = Date.now();
  switch (error.kind) {
    case "access_denied": // not refined by the poller: treat as credentials (the safe side)
    case "auth": {
      const until = await store.pauseProvider(item.provider, settings.pauseMs, error.message);
      await update({ nextPollAt: until, lastError: error.message });
      log.error({ provider: item.provider, httpStatus: error.httpStatus, pausedUntil: until }, item.authMessage);
      return { kind: "paused", until };
    }
    case "forbidden":
      return stop(
        "access_denied",
        `${PROVIDER_NAME[item.provider]} refuses us this item (${error.message}); our credentials work, so it belongs to another account`,
      );
    case "not_found":
      return stop(
        item.notFoundReason,
        item.notFoundReason === "gone"
          ? `${PROVIDER_NAME[item.provider]} no longer shows this item, which it showed before (${error.message})`
          : `${PROVIDER_NAME[item.provider]} does not know this item (${error.message})`,
      );
    case "rate_limited": {
      const wait = error.retryAfterMs ?? 60_000;
      await update({ nextPollAt: new Date(now + wait), lastError: error.message });
      return { kind: "rate_limited", retryAfterMs: wait };
    }
    case "transient":
    case "unexpected": {
      const failures = item.failures + 1;
      await update({
        consecutiveFailures: failures,
        lastError: error.message.slice(0, 500),
        lastPolledAt: new Date(now),
        nextPollAt: new Date(now + nextPollDelayMs(settings.intervalMs, { failures })),
      });
      // Outages are expected and retried; anything else needs a look.
      (error.kind === "transient" ? log.warn.bind(log) : log.error.bind(log))(
        { provider: item.provider, item: item.key, httpStatus: error.httpStatus, failures, err: error.message },
        "poll failed",
      );
      return { kind: "failed", error: error.message, failures };
    }
  }
}
