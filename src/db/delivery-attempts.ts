// Recording delivery attempts: many attempts (to many subscriptions) in ONE statement: the attempt rows,
// each delivery's new status, and each subscription's failure run. Auto-disable, when a run crosses a
// threshold, is a second, rare transaction.
import { recordOperatorEvent } from "./operator-events.js";
import type { Database } from "./client.js";
import { withTransaction } from "./sql.js";

export interface AttemptRecord {
  webhookDeliveryId: string;
  subscriptionId: string;
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  status: "succeeded" | "pending" | "failed";
  nextAttemptAt: Date | null;
}

export interface SubscriptionRun {
  id: string;
  consecutiveFailures: number;
  failingSince: Date | null;
  status: string;
}

const RECORD = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
         AS t(delivery_id, attempt, attempted_at, duration_ms, status_code, error, excerpt, status, next_attempt_at)
), attempt_rows AS (
  INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, status_code, error, response_excerpt)
  SELECT delivery_id, attempt, attempted_at, duration_ms, status_code, error, excerpt FROM input
), delivery_rows AS (
  UPDATE webhook_deliveries d
     SET attempts = i.attempt, last_status_code = i.status_code, last_error = i.error, status = i.status,
         next_attempt_at = i.next_attempt_at, completed_at = CASE WHEN i.status = 'pending' THEN NULL ELSE i.attempted_at END, updated_at = now()
    FROM input i WHERE d.id = i.delivery_id
)
UPDATE subscriptions s
   SET consecutive_failures = CASE WHEN a.reset THEN a.failures ELSE s.consecutive_failures + a.failures END,
       failing_since = CASE WHEN a.failures = 0 THEN NULL WHEN a.reset THEN a.first_failure_at ELSE COALESCE(s.failing_since, a.first_failure_at) END,
       updated_at = now()
  FROM unnest($10::uuid[], $11::bool[], $12::int[], $13::timestamptz[]) AS a(id, reset, failures, first_failure_at)
 WHERE s.id = a.id AND (a.failures > 0 OR s.consecutive_failures > 0)
RETURNING s.id, s.consecutive_failures, s.failing_since, s.status`;

interface RunChange {
  id: string;
  /** A success in this batch ends the run; `failures` then counts only the failures after the last success. */
  reset: boolean;
  failures: number;
  firstFailureAt: Date | null;
}

/** Per subscription, what the batch's attempts (in time order) do to its failure run. */
export function runChanges(records: AttemptRecord[]): RunChange[] {
  const bySubscription = new Map<string, AttemptRecord[]>();
  for (const r of records) {
    const list = bySubscription.get(r.subscriptionId);
    if (list) list.push(r);
    else bySubscription.set(r.subscriptionId, [r]);
  }
  return [...bySubscription.entries()].map(([id, list]) => {
    const ordered = [...list].sort((a, b) => a.attemptedAt.getTime() - b.attemptedAt.getTime());
    const lastSuccess = ordered.findLastIndex((r) => r.status === "succeeded");
    const trailing = ordered.slice(lastSuccess + 1);
    return { id, reset: lastSuccess >= 0, failures: trailing.length, firstFailureAt: trailing[0]?.attemptedAt ?? null };
  });
}

/** Writes the attempts; returns the failure runs of subscriptions that are failing (or just recovered). */
export async function recordAttempts(db: Database, records: AttemptRecord[]): Promise<SubscriptionRun[]> {
  const changes = runChanges(records);
  const { rows } = await db.pool.query<{ id: string; consecutive_failures: number; failing_since: Date | null; status: string }>(RECORD, [
    records.map((r) => r.webhookDeliveryId),
    records.map((r) => r.attempt),
    records.map((r) => r.attemptedAt.toISOString()),
    records.map((r) => r.durationMs),
    records.map((r) => r.statusCode),
    records.map((r) => r.error),
    records.map((r) => r.excerpt),
    records.map((r) => r.status),
    records.map((r) => r.nextAttemptAt?.toISOString() ?? null),
    changes.map((c) => c.id),
    changes.map((c) => c.reset),
    changes.map((c) => c.failures),
    changes.map((c) => c.firstFailureAt?.toISOString() ?? null),
  ]);
  return rows.map((r) => ({ id: r.id, consecutiveFailures: r.consecutive_failures, failingSince: r.failing_since, status: r.status }));
}

/** Disables a subscription (once: only while active) and emits its `subscription.disabled` event. */
export async function disableSubscription(db: Database, id: string, reason: string, at: Date): Promise<boolean> {
  return withTransaction(db, async (sql) => {
    const changed = await sql.query(
      "UPDATE subscriptions SET status = 'disabled', disabled_reason = $2, disabled_at = $3, updated_at = now() WHERE id = $1 AND status = 'active' RETURNING id",
      [id, reason, at],
    );
    if (changed.length === 0) return false;
    await recordOperatorEvent(sql, { subscriptionId: id, status: "disabled", reason, time: at });
    return true;
  });
}
