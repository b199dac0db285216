// Delivery lanes: every subscription is a lane with its own in-flight limit, rate limit and ordering mode,
// shared by every worker process through Postgres (docs/delivery.md). A claim is one short transaction:
//   1. lock the lanes (the subscriptions' rows, FOR NO KEY UPDATE SKIP LOCKED: two processes never claim for
//      one lane at once, and the fan-out's foreign-key checks never wait for a claim);
//   2. lease due deliveries, in a statement whose snapshot is taken after the locks are held, so it counts
//      every lease that an earlier claimer committed: the in-flight limit holds across processes;
//   3. advance the rate limiter of the lanes that have one.
// A lease ends when the attempt is recorded (db/delivery-attempts.ts); a lease that runs out (the process
// died mid-attempt) makes the delivery claimable again by any process.
import type { Database } from "./client.js";
import { onPool, withTransaction, type Sql } from "./sql.js";

export interface LaneRow {
  subscriptionId: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  maxInFlight: number;
  rateLimitPerSecond: number | null;
  ordered: boolean;
  rateTat: Date | null;
  consecutiveFailures: number;
}

export interface LaneRequest {
  subscriptionId: string;
  /** Deliveries to lease at most. */
  want: number;
  /** In flight across every process at most (the subscription's limit, or less while its circuit is open). */
  maxInFlight: number;
  ordered: boolean;
}

export interface ClaimedDelivery {
  webhookDeliveryId: string;
  eventId: string;
  subscriptionId: string;
  /** Attempts made before this one. */
  attempts: number;
  /** Steps of the retry schedule used before this attempt (a 429 uses none). */
  scheduleStep: number;
  scheduleStartedAt: Date;
  envelope: Record<string, unknown>;
  leaseToken: string;
}

const LOCK_LANES = `
SELECT id AS "subscriptionId", url, secret, previous_secret AS "previousSecret", previous_secret_expires_at AS "previousSecretExpiresAt",
       max_in_flight AS "maxInFlight", rate_limit_per_second AS "rateLimitPerSecond", ordering = 'subject' AS ordered,
       rate_tat AS "rateTat", consecutive_failures AS "consecutiveFailures"
  FROM subscriptions
 WHERE id = ANY($1::uuid[]) AND status = 'active' AND deleted_at IS NULL AND (paused_until IS NULL OR paused_until <= now())
 ORDER BY id
   FOR NO KEY UPDATE SKIP LOCKED`;

const CLAIM = `
WITH want AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::bool[]) AS w(subscription_id, n, max_in_flight, ordered)
), room AS (
  SELECT w.subscription_id, w.ordered,
         least(w.n, w.max_in_flight - (SELECT count(*) FROM webhook_deliveries f
                                        WHERE f.subscription_id = w.subscription_id AND f.leased_until > now())::int) AS n
    FROM want w
), picked AS (
  SELECT p.id FROM room r CROSS JOIN LATERAL (
    SELECT d.id FROM webhook_deliveries d
     WHERE d.subscription_id = r.subscription_id AND d.status = 'pending' AND d.next_attempt_at <= now()
       AND (d.leased_until IS NULL OR d.leased_until <= now())
       -- Ordered mode: only the subject's first unfinished delivery, and only while none of the subject is in flight.
       AND (NOT r.ordered OR NOT EXISTS (
             SELECT 1 FROM webhook_deliveries o
              WHERE o.subscription_id = d.subscription_id AND o.subject = d.subject AND o.status IN ('pending', 'held') AND o.id <> d.id
                AND (o.position < d.position OR o.leased_until > now())))
     ORDER BY d.next_attempt_at, d.position
     LIMIT greatest(r.n, 0)
  ) p
), leased AS (
  UPDATE webhook_deliveries d
     SET leased_until = now() + make_interval(secs => $5::float8 / 1000), lease_token = $6::uuid
    FROM picked WHERE d.id = picked.id
  RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.schedule_step, COALESCE(d.schedule_started_at, d.created_at) AS schedule_started_at
)
SELECT l.id AS "webhookDeliveryId", l.event_id AS "eventId", l.subscription_id AS "subscriptionId", l.attempts,
       l.schedule_step AS "scheduleStep", l.schedule_started_at AS "scheduleStartedAt", e.envelope
  FROM leased l JOIN events e ON e.id = l.event_id`;

export interface ClaimResult {
  /** The lanes this claim holds, with their settings and targets. */
  lanes: LaneRow[];
  claimed: ClaimedDelivery[];
  /** The database's clock when the lanes were locked (rate limits count in it). */
  now: Date;
}

/**
 * Locks what it can of the named lanes, lets `plan` decide how many deliveries each may lease now (it sees
 * the locked lanes: limits, rate limiter, failure run), leases them, and stores the rate limiters `plan`
 * returns. Lanes another process is claiming for are skipped.
 */
export async function claimDeliveries(
  db: Database,
  subscriptionIds: string[],
  leaseMs: number,
  leaseToken: string,
  plan: (lanes: LaneRow[], now: Date) => LaneRequest[],
  advance: (lanes: LaneRow[], claimed: ClaimedDelivery[], now: Date) => { subscriptionId: string; rateTat: Date }[],
): Promise<ClaimResult> {
  return withTransaction(db, async (sql) => {
    const lanes = await sql.query<LaneRow>(LOCK_LANES, [subscriptionIds]);
    if (lanes.length === 0) return { lanes, claimed: [], now: new Date() };
    const [{ now }] = (await sql.query<{ now: Date }>("SELECT now() AS now")) as [{ now: Date }];
    const requests = plan(lanes, now).filter((r) => r.want > 0);
    if (requests.length === 0) return { lanes, claimed: [], now };
    const rows = await sql.query<Omit<ClaimedDelivery, "leaseToken">>(CLAIM, [
      requests.map((r) => r.subscriptionId),
      requests.map((r) => r.want),
      requests.map((r) => r.maxInFlight),
      requests.map((r) => r.ordered),
      leaseMs,
      leaseToken,
    ]);
    const claimed = rows.map((r) => ({ ...r, leaseToken }));
    const tats = advance(lanes, claimed, now);
    if (tats.length > 0) {
      await sql.query("UPDATE subscriptions s SET rate_tat = t.tat FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, tat) WHERE s.id = t.id", [
        tats.map((t) => t.subscriptionId),
        tats.map((t) => t.rateTat.toISOString()),
      ]);
    }
    return { lanes, claimed, now };
  });
}

/** Of these lanes, those that are active and not paused: the ones a claim skipped were being claimed elsewhere. */
export async function activeLanes(db: Database, subscriptionIds: string[]): Promise<string[]> {
  const rows = await onPool(db).query<{ id: string }>(
    "SELECT id FROM subscriptions WHERE id = ANY($1::uuid[]) AND status = 'active' AND deleted_at IS NULL AND (paused_until IS NULL OR paused_until <= now())",
    [subscriptionIds],
  );
  return rows.map((r) => r.id);
}

/**
 * Active, unpaused lanes with a delivery due and not leased: retries whose time came, deliveries committed by
 * a process that could not claim them, leases that ran out. One index probe per lane.
 */
export async function lanesWithDueWork(db: Database): Promise<string[]> {
  const rows = await onPool(db).query<{ id: string }>(
    `SELECT s.id FROM subscriptions s
      WHERE s.status = 'active' AND s.deleted_at IS NULL AND (s.paused_until IS NULL OR s.paused_until <= now())
        AND EXISTS (SELECT 1 FROM webhook_deliveries d
                     WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= now()
                       AND (d.leased_until IS NULL OR d.leased_until <= now()))`,
  );
  return rows.map((r) => r.id);
}

/**
 * Ordered mode's safety net: a held delivery whose subject has no earlier unfinished delivery is due now. The
 * attempt recorder releases the next delivery as it records the one before; this catches the rare fan-out
 * that raced with that release (and anything held when a subscription left ordered mode).
 */
export async function releaseHeadsOfSubjects(db: Database): Promise<number> {
  const rows = await onPool(db).query(
    `UPDATE webhook_deliveries h SET status = 'pending', next_attempt_at = now(), schedule_started_at = now(), updated_at = now()
      WHERE h.status = 'held'
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                         WHERE o.subscription_id = h.subscription_id AND o.subject = h.subject AND o.status IN ('pending', 'held')
                           AND o.position < h.position)
      RETURNING h.id`,
  );
  return rows.length;
}

/** A subscription left ordered mode: what it held waits no more (in the caller's transaction). */
export async function releaseAllHeld(sql: Sql, subscriptionId: string): Promise<void> {
  await sql.query(
    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), schedule_started_at = now(), updated_at = now() WHERE subscription_id = $1 AND status = 'held'",
    [subscriptionId],
  );
}

/** A deleted subscription's waiting deliveries will never be sent: cancelled (in the caller's transaction). */
export async function cancelWaiting(sql: Sql, subscriptionId: string): Promise<void> {
  await sql.query(
    "UPDATE webhook_deliveries SET status = 'cancelled', last_error = 'subscription deleted', completed_at = now(), updated_at = now() WHERE subscription_id = $1 AND status IN ('pending', 'held')",
    [subscriptionId],
  );
}

export interface LaneStats {
  /** Attempts under way now, in any worker process. */
  inFlight: number;
  /** Due now and waiting for a slot (or for the rate limit). */
  waiting: number;
  /** Waiting for a retry at a later time. */
  retrying: number;
  /** Ordered mode: deliveries held behind an earlier event of their subject, the subjects they belong to, the oldest. */
  held: number;
  heldSubjects: number;
  heldSince: Date | null;
  pausedUntil: Date | null;
  pauseReason: string | null;
}

/** One lane's backlog, for the API and the console. */
export async function laneStats(db: Database, subscriptionId: string): Promise<LaneStats> {
  const [row] = await onPool(db).query<LaneStats>(
    `SELECT (SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1 AND leased_until > now())::int AS "inFlight",
            (SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'pending' AND next_attempt_at <= now()
                AND (leased_until IS NULL OR leased_until <= now()))::int AS waiting,
            (SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'pending' AND next_attempt_at > now())::int AS retrying,
            h.held, h.subjects AS "heldSubjects", h.since AS "heldSince",
            CASE WHEN s.paused_until > now() THEN s.paused_until END AS "pausedUntil",
            CASE WHEN s.paused_until > now() THEN s.pause_reason END AS "pauseReason"
       FROM subscriptions s,
            LATERAL (SELECT count(*)::int AS held, count(DISTINCT subject)::int AS subjects, min(created_at) AS since
                       FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'held') h
      WHERE s.id = $1`,
    [subscriptionId],
  );
  return row ?? { inFlight: 0, waiting: 0, retrying: 0, held: 0, heldSubjects: 0, heldSince: null, pausedUntil: null, pauseReason: null };
}
