// Recording delivery attempts: many attempts (to many subscriptions) in ONE statement: the attempt rows,
// each delivery's new status, schedule step and next due time, the end of its lease (only while the attempt
// still held it), the release of the next held delivery of its subject (ordered mode), each subscription's
// failure run and its 429 pause. Auto-disable, when a run crosses a threshold, is a second, rare transaction.
// A batch whose lanes hand their freed slots straight to their next due deliveries (a handover,
// docs/delivery.md: the slot changes hands without being freed, and no claim is needed) runs a second
// statement, the same with the handover's steps; a batch that hands nothing over does not pay for them.
import type { Database } from "./client.js";
import { type ClaimResult, claimResult, type ClaimRow, LEASE_OFFER_COLUMNS, type LeaseOffer } from "./delivery-lanes.js";
import { type RunChange, runChanges, type SubscriptionRun } from "./failure-runs.js";
import { hotStatement, onPool } from "./sql.js";
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

/** The record's inputs, each column's type and value on one line (src/db/unnest.ts numbers them). */
const RECORD_INPUTS = {
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
};
const COLUMNS = unnestLayout(RECORD_INPUTS);
// The handover's record takes two more, numbered after the record's own (so the text both share is the same).
const HANDOVER_COLUMNS = unnestLayout({
  ...RECORD_INPUTS,
  // The lanes, and the lease's terms (its token, length, clock and the circuit's threshold).
  handover: LEASE_OFFER_COLUMNS.lanes,
  lease: LEASE_OFFER_COLUMNS.terms,
});

/**
 * Lanes whose attempts in this batch free slots that their next due deliveries may take at once: per lane, how
 * many at most (the pump's fair share: delivery/slot-handover.ts). A lane that may not send without taking
 * turns now (disabled, deleted, paused, rate-limited, probing after failures) or that is ordered hands nothing over.
 */
export type Handover = LeaseOffer;

// What every record does (written once; each statement below places it): the attempt rows and their
// deliveries' new state...
const ATTEMPTS = `
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
  RETURNING d.id, d.subscription_id, d.subject, d.status, d.slot, i.lease_token`;

// ...the release of an ordered subject's next delivery, and the failure runs.
const RELEASE_AND_RUNS = `
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
, runs AS (
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
  RETURNING s.id, s.consecutive_failures, s.failing_since, s.status
)`;

// A batch that hands nothing over (the common case: its cost is the record's own, nothing more).
const RECORD = hotStatement(
  "record_attempts",
  `${ATTEMPTS}
), freed AS (
  -- The attempt's slot of its lane's in-flight limit is free again (only while this attempt still held it).
  UPDATE delivery_slots sl SET lease_token = NULL, leased_until = NULL
    FROM delivery_rows r
   WHERE sl.subscription_id = r.subscription_id AND sl.slot = r.slot AND sl.lease_token = r.lease_token
${RELEASE_AND_RUNS}
SELECT r.id AS lane_id, true AS run, r.consecutive_failures, r.failing_since, r.status FROM runs r`,
);

// A batch that hands slots over.
const RECORD_HANDING_OVER = hotStatement(
  "record_handing_over",
  `${ATTEMPTS}
), lease AS (
  SELECT p.token, p.circuit_after, coalesce(p.at, now()) AS now, coalesce(p.at, now()) + make_interval(secs => p.lease_ms / 1000) AS until
    FROM ${HANDOVER_COLUMNS.unnest("lease")} AS p(${HANDOVER_COLUMNS.names("lease")})
), handing AS MATERIALIZED (
  -- Lanes asked to hand over that may still send without taking turns.
  SELECT h.lane, h.want, s.max_in_flight, p.token, p.now, p.until
    FROM ${HANDOVER_COLUMNS.unnest("handover")} AS h(${HANDOVER_COLUMNS.names("handover")})
    CROSS JOIN lease p
    -- (s.id = ANY: by its key, whatever the plan thinks of the table's size.)
    JOIN subscriptions s ON s.id = h.lane AND s.id = ANY (${HANDOVER_COLUMNS.param("handover", "lane")})
   WHERE h.want > 0 AND s.status = 'active' AND s.deleted_at IS NULL AND (s.paused_until IS NULL OR s.paused_until <= p.now)
     AND s.rate_limit_per_second IS NULL AND s.ordering <> 'subject' AND (p.circuit_after = 0 OR s.consecutive_failures < p.circuit_after)
), given AS MATERIALIZED (
  -- Per lane, the slots its recorded attempts give back, each with the lease it was held under; a lane that
  -- hands over lists first those below its in-flight limit (it may have been lowered since they were taken).
  SELECT r.subscription_id AS lane, h.lane IS NOT NULL AS handing, h.want, h.now, h.token, h.until,
         array_agg(r.slot ORDER BY r.slot >= coalesce(h.max_in_flight, 0), r.slot) AS slots,
         array_agg(r.lease_token ORDER BY r.slot >= coalesce(h.max_in_flight, 0), r.slot) AS held_by,
         count(*) FILTER (WHERE r.slot < h.max_in_flight) AS usable
    FROM delivery_rows r LEFT JOIN handing h ON h.lane = r.subscription_id
   WHERE r.slot IS NOT NULL
   GROUP BY r.subscription_id, h.lane, h.want, h.now, h.token, h.until, h.max_in_flight
), handed AS MATERIALIZED (
  -- Each slot, and the delivery it goes to: the lane's next due ones, oldest first, as a claim takes them
  -- (rows another claim holds are skipped), paired with its usable slots in order; the other slots go to none.
  SELECT g.lane, u.slot, u.held_by, u.next_id, CASE WHEN u.next_id IS NOT NULL THEN g.token END AS token,
         CASE WHEN u.next_id IS NOT NULL THEN g.until END AS until
    FROM given g
    CROSS JOIN LATERAL (
      SELECT coalesce(array_agg(q.id ORDER BY q.next_attempt_at, q.position), '{}') AS ids FROM (
        SELECT d.id, d.next_attempt_at, d.position FROM webhook_deliveries d
         WHERE g.handing AND d.subscription_id = g.lane AND d.status = 'pending' AND d.next_attempt_at <= g.now::timestamptz(3)
           AND (d.leased_until IS NULL OR d.leased_until <= g.now)
         ORDER BY d.next_attempt_at, d.position
         LIMIT CASE WHEN g.handing THEN least(g.want, g.usable) ELSE 0 END
         FOR UPDATE OF d SKIP LOCKED) q) n
    CROSS JOIN LATERAL unnest(g.slots, g.held_by, n.ids) AS u(slot, held_by, next_id)
   WHERE u.slot IS NOT NULL
), freed AS (
  -- The attempt's slot of its lane's in-flight limit (only while this attempt still held it): handed over to
  -- the lane's next due delivery, or free again.
  UPDATE delivery_slots sl SET lease_token = t.token, leased_until = t.until
    FROM handed t
   WHERE sl.subscription_id = t.lane AND sl.slot = t.slot AND sl.lease_token = t.held_by
  RETURNING sl.slot, t.next_id, t.token, t.until
), leased AS (
  UPDATE webhook_deliveries d SET leased_until = f.until, lease_token = f.token, slot = f.slot
    FROM freed f WHERE f.next_id IS NOT NULL AND d.id = f.next_id
  RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.schedule_step, COALESCE(d.schedule_started_at, d.created_at) AS started, d.replay_id
${RELEASE_AND_RUNS}
-- Failure runs, then (as a claim answers: src/db/delivery-lanes.ts) the lanes that handed over, with their
-- targets, and what they leased.
SELECT r.id AS lane_id, NULL::int AS room, NULL::timestamptz AS next_at, NULL::boolean AS ordered, NULL AS url, NULL AS secret,
       NULL AS previous_secret, NULL::timestamptz AS previous_secret_expires_at, NULL::jsonb AS headers, NULL::uuid AS webhook_delivery_id,
       NULL::uuid AS event_id, NULL::int AS attempts, NULL::int AS schedule_step, NULL::timestamptz AS schedule_started_at, NULL AS body,
       NULL::uuid AS replay_id, NULL::jsonb AS destination, true AS run, r.consecutive_failures, r.failing_since, r.status
  FROM runs r
UNION ALL
SELECT s.id, (SELECT count(*) FROM leased l WHERE l.subscription_id = s.id)::int, NULL, false, s.url, s.secret, s.previous_secret,
       s.previous_secret_expires_at, s.headers, NULL, NULL, NULL, NULL, NULL, NULL, NULL, s.destination, false, NULL, NULL, NULL
  FROM subscriptions s WHERE s.id IN (SELECT l.subscription_id FROM leased l)
UNION ALL
SELECT l.subscription_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.id, l.event_id, l.attempts, l.schedule_step, l.started,
       (SELECT e.envelope::text FROM events e WHERE e.id = l.event_id), l.replay_id, NULL, false, NULL, NULL, NULL
  FROM leased l`,
);

type RecordRow = ClaimRow & { run: boolean; consecutive_failures: number | null; failing_since: Date | null; status: string | null };

export interface RecordResult {
  /** The failure runs of subscriptions that are failing (or just recovered). */
  runs: SubscriptionRun[];
  /** What the handover leased (nothing without one): to be attempted, as a claim's result is. */
  handedOver: ClaimResult;
}

/** Writes the attempts, and the handover when asked for. */
export async function recordAttempts(db: Database, records: AttemptRecord[], handover?: Handover): Promise<RecordResult> {
  const inputs = { attempts: records, runs: runChanges(records) };
  const rows = handover
    ? await onPool(db).hot<RecordRow>(RECORD_HANDING_OVER, HANDOVER_COLUMNS.values({ ...inputs, handover: handover.lanes, lease: [handover] }))
    : await onPool(db).hot<RecordRow>(RECORD, COLUMNS.values(inputs));
  const runs = rows
    .filter((r) => r.run)
    .map((r) => ({ id: r.lane_id, consecutiveFailures: r.consecutive_failures!, failingSince: r.failing_since, status: r.status! }));
  return {
    runs,
    handedOver: claimResult(
      rows.filter((r) => !r.run),
      handover?.leaseToken ?? "",
    ),
  };
}
