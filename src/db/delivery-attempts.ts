// Recording delivery attempts: many attempts (to many subscriptions) in ONE statement: the attempt rows,
// each delivery's new status, schedule step and next due time, the end of its lease (only while the attempt
// still held it), the release of the next held delivery of its subject (ordered mode), each subscription's
// failure run and its 429 pause. Auto-disable, when a run crosses a threshold, is a second, rare transaction.
import { recordOperatorEvent } from "./operator-events.js";
import type { Database } from "./client.js";
import { hotStatement, onPool, withTransaction } from "./sql.js";
import { columnsFor, unnestLayout } from "./unnest.js";

export interface AttemptRecord {
  webhookDeliveryId: string;
  subscriptionId: string;
  /** The claim's lease: the delivery's row is updated only while this attempt still holds it. */
  leaseToken: string | null;
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  status: "succeeded" | "pending" | "failed";
  nextAttemptAt: Date | null;
  /** Steps of the retry schedule used, this attempt included (a 429 uses none). */
  scheduleStep: number;
  /** Answered 429: the lane pauses until `nextAttemptAt`; not a failure of the endpoint. */
  throttled: boolean;
}

export interface SubscriptionRun {
  id: string;
  consecutiveFailures: number;
  failingSince: Date | null;
  status: string;
}

/** The statement's two inputs, each column's type and value on one line (src/db/unnest.ts numbers them). */
const COLUMNS = unnestLayout({
  attempts: columnsFor<AttemptRecord>({
    delivery_id: ["uuid", (r) => r.webhookDeliveryId],
    attempt: ["int", (r) => r.attempt],
    attempted_at: ["timestamptz", (r) => r.attemptedAt.toISOString()],
    duration_ms: ["int", (r) => r.durationMs],
    status_code: ["int", (r) => r.statusCode],
    error: ["text", (r) => r.error],
    excerpt: ["text", (r) => r.excerpt],
    status: ["text", (r) => r.status],
    next_attempt_at: ["timestamptz", (r) => r.nextAttemptAt?.toISOString() ?? null],
    schedule_step: ["int", (r) => r.scheduleStep],
    lease_token: ["uuid", (r) => r.leaseToken],
  }),
  runs: columnsFor<RunChange>({
    id: ["uuid", (c) => c.id],
    reset: ["bool", (c) => c.reset],
    failures: ["int", (c) => c.failures],
    first_failure_at: ["timestamptz", (c) => c.firstFailureAt?.toISOString() ?? null],
    pause_until: ["timestamptz", (c) => c.pauseUntil?.toISOString() ?? null],
    pause_reason: ["text", (c) => c.pauseReason],
  }),
});

const RECORD = hotStatement(
  "record_attempts",
  `
WITH input AS (
  SELECT * FROM ${COLUMNS.unnest("attempts")} AS t(${COLUMNS.names("attempts")})
), attempt_rows AS (
  INSERT INTO delivery_attempts (webhook_delivery_id, attempt, attempted_at, duration_ms, status_code, error, response_excerpt)
  SELECT delivery_id, attempt, attempted_at, duration_ms, status_code, error, excerpt FROM input
), delivery_rows AS (
  UPDATE webhook_deliveries d
     SET attempts = i.attempt, last_status_code = i.status_code, last_error = i.error, status = i.status,
         next_attempt_at = i.next_attempt_at, schedule_step = i.schedule_step, leased_until = NULL, lease_token = NULL,
         completed_at = CASE WHEN i.status = 'pending' THEN NULL ELSE i.attempted_at END, updated_at = now()
    FROM input i
   WHERE d.id = i.delivery_id AND d.lease_token IS NOT DISTINCT FROM i.lease_token
  RETURNING d.id, d.subscription_id, d.subject, d.status, d.slot, i.lease_token
), freed AS (
  -- The attempt's slot of its lane's in-flight limit is free again (only while this attempt still held it).
  UPDATE delivery_slots sl SET lease_token = NULL, leased_until = NULL
    FROM delivery_rows r
   WHERE sl.subscription_id = r.subscription_id AND sl.slot = r.slot AND sl.lease_token = r.lease_token
), released AS (
  -- Ordered mode: a delivery that is done (delivered or failed for good) releases the next of its subject,
  -- unless an earlier one of the subject is still unfinished.
  UPDATE webhook_deliveries h SET status = 'pending', next_attempt_at = now(), schedule_started_at = now(), updated_at = now()
    FROM (SELECT DISTINCT nxt.id
            FROM delivery_rows done
            CROSS JOIN LATERAL (
              SELECT n.id, n.status FROM webhook_deliveries n
               WHERE n.subscription_id = done.subscription_id AND n.subject = done.subject AND n.status IN ('pending', 'held')
                 AND n.id NOT IN (SELECT id FROM delivery_rows WHERE status <> 'pending')
               ORDER BY n.position LIMIT 1) nxt
           WHERE done.status <> 'pending' AND done.subject IS NOT NULL AND nxt.status = 'held'
             AND EXISTS (SELECT 1 FROM subscriptions o WHERE o.id = done.subscription_id AND o.ordering = 'subject')) r
   WHERE h.id = r.id AND h.status = 'held'
)
UPDATE subscriptions s
   SET consecutive_failures = CASE WHEN a.reset THEN a.failures ELSE s.consecutive_failures + a.failures END,
       failing_since = CASE WHEN a.failures = 0 AND (a.reset OR s.consecutive_failures = 0) THEN NULL
                            WHEN a.failures = 0 THEN s.failing_since
                            WHEN a.reset THEN a.first_failure_at ELSE COALESCE(s.failing_since, a.first_failure_at) END,
       paused_until = CASE WHEN a.pause_until IS NOT NULL THEN greatest(s.paused_until, a.pause_until) ELSE s.paused_until END,
       pause_reason = CASE WHEN a.pause_until IS NOT NULL THEN a.pause_reason ELSE s.pause_reason END,
       updated_at = now()
  FROM ${COLUMNS.unnest("runs")} AS a(${COLUMNS.names("runs")})
 WHERE s.id = a.id AND (a.failures > 0 OR a.pause_until IS NOT NULL OR (a.reset AND s.consecutive_failures > 0))
RETURNING s.id, s.consecutive_failures, s.failing_since, s.status`,
);

interface RunChange {
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
export function runChanges(records: AttemptRecord[]): RunChange[] {
  const bySubscription = new Map<string, AttemptRecord[]>();
  for (const r of records) {
    const list = bySubscription.get(r.subscriptionId);
    if (list) list.push(r);
    else bySubscription.set(r.subscriptionId, [r]);
  }
  return [...bySubscription.entries()].map(([id, all]) => {
    const pauses = all.filter((r) => r.throttled && r.nextAttemptAt);
    const latest = pauses.reduce<AttemptRecord | null>((a, r) => (!a || r.nextAttemptAt! > a.nextAttemptAt! ? r : a), null);
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

/** Writes the attempts; returns the failure runs of subscriptions that are failing (or just recovered). */
export async function recordAttempts(db: Database, records: AttemptRecord[]): Promise<SubscriptionRun[]> {
  const changes = runChanges(records);
  const rows = await onPool(db).hot<{ id: string; consecutive_failures: number; failing_since: Date | null; status: string }>(
    RECORD,
    COLUMNS.values({ attempts: records, runs: changes }),
  );
  return rows.map((r) => ({ id: r.id, consecutiveFailures: r.consecutive_failures, failingSince: r.failing_since, status: r.status }));
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
