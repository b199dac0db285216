// A subscription's failure run (consecutive failed attempts, since when), as the attempts' record
// (./delivery-attempts.ts) changes it, and auto-disable when a run crosses a threshold: a second, rare
// transaction after the record.
import type { Database } from "./client.js";
import { recordOperatorEvent } from "./operator-events.js";
import { withTransaction } from "./sql.js";

export interface SubscriptionRun {
  id: string;
  consecutiveFailures: number;
  failingSince: Date | null;
  status: string;
}

/** What an attempt (an AttemptRecord of ./delivery-attempts.ts) says of its subscription's failure run. */
export interface RunAttempt {
  subscriptionId: string;
  attemptedAt: Date;
  status: "succeeded" | "pending" | "failed";
  /** Answered 429 (or its broker was away): not a failure of the endpoint. */
  throttled: boolean;
  nextAttemptAt: Date | null;
  statusCode: number | null;
  error: string | null;
}

export interface RunChange {
  id: string;
  /** A success in this batch ends the run; `failures` then counts only the failures after the last success. */
  reset: boolean;
  failures: number;
  firstFailureAt: Date | null;
  /** A 429 (or a broker that is away) pauses the lane until the latest time it asked for... */
  pauseUntil: Date | null;
  /** ...for this reason. */
  pauseReason: string | null;
}

/** Per subscription, what the batch's attempts (in time order) do to its failure run. */
export function runChanges(records: RunAttempt[]): RunChange[] {
  const bySubscription = new Map<string, RunAttempt[]>();
  for (const r of records) {
    const list = bySubscription.get(r.subscriptionId);
    if (list) list.push(r);
    else bySubscription.set(r.subscriptionId, [r]);
  }
  return [...bySubscription.entries()].map(([id, all]) => {
    const pauses = all.filter((r) => r.throttled && r.nextAttemptAt);
    const latest = pauses.reduce<RunAttempt | null>((a, r) => (!a || r.nextAttemptAt! > a.nextAttemptAt! ? r : a), null);
    const pauseUntil = latest ? latest.nextAttemptAt : null;
    const pauseReason = latest ? (latest.statusCode === 429 ? "answered 429 Too Many Requests" : `broker unavailable: ${latest.error ?? "no answer"}`) : null;
    // A 429 says nothing of the endpoint's health: it neither fails nor ends a failure run.
    const list = all.filter((r) => !r.throttled);
    const ordered = [...list].sort((a, b) => a.attemptedAt.getTime() - b.attemptedAt.getTime());
    const lastSuccess = ordered.findLastIndex((r) => r.status === "succeeded");
    const trailing = ordered.slice(lastSuccess + 1);
    return { id, reset: lastSuccess >= 0, failures: trailing.length, firstFailureAt: trailing[0]?.attemptedAt ?? null, pauseUntil, pauseReason };
  });
}

/** Disables a subscription (once: only while active) and emits its `subscription.disabled` event. */
export async function disableSubscription(db: Database, id: string, reason: string, at: Date): Promise<boolean> {
  return withTransaction(db, async (sql) => {
    const changed = await sql.query(
      `UPDATE subscriptions SET status = 'disabled', disabled_reason = $2, disabled_at = $3, updated_at = now()
          WHERE id = $1 AND status = 'active' RETURNING id`,
      [id, reason, at],
    );
    if (changed.length === 0) return false;
    await recordOperatorEvent(sql, { subscriptionId: id, status: "disabled", reason, time: at });
    return true;
  });
}
