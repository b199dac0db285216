// Delivery lanes: every subscription is a lane with its own in-flight limit, rate limit and ordering mode,
// shared by every worker process through Postgres (docs/delivery.md). A claim is one call of the
// `claim_deliveries` function (prisma/migrations/20261203000000_delivery_v3 says how): it takes free slots of
// each lane's in-flight limit and due deliveries with SKIP LOCKED, so claims for one lane never wait on each
// other, and the in-flight limit holds across processes; only a rate-limited (or probing) lane takes turns on
// its limiter. A lease ends when the attempt is recorded (db/delivery-attempts.ts); a
// lease that runs out (the process died mid-attempt) makes the delivery claimable again by any process.
import type { BrokerOptions } from "../domain/destinations.js";
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";
import { columnsFor } from "./unnest.js";

/** A lane this claim held: its target, and what it could take. */
export interface LaneRow {
  subscriptionId: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  /** Static request headers sent with every attempt (docs/delivery.md, "Static headers"). */
  headers: Record<string, string>;
  /** A broker destination's options (exchange and routing key, or subject); null for an HTTP endpoint. */
  destination: BrokerOptions | null;
  /** How many deliveries it could lease (asked for, less what is in flight anywhere, less what its rate allows). */
  room: number;
  /** When to ask again: its rate limit held it back, or it took everything due and more comes due then (≥ 50 ms on). */
  nextAt: Date | null;
  /** Ordered mode: a delivery that ends releases the next of its subject. */
  ordered: boolean;
}

export interface LaneRequest {
  subscriptionId: string;
  /** Deliveries this process would take at most (its fair share of free slots). */
  want: number;
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
  /** The request body: the event's CloudEvents envelope as JSON text. */
  body: string;
  leaseToken: string;
  /** The replay it belongs to (sent as `hub-replay`); absent for an event's first delivery. */
  replayId?: string | null;
}

export interface ClaimResult {
  /** The lanes this claim held; a lane asked for and missing was disabled, paused or being claimed elsewhere. */
  lanes: LaneRow[];
  claimed: ClaimedDelivery[];
}

export interface ClaimSettings {
  leaseMs: number;
  /** A lane whose last N attempts failed is probed one request at a time (0: never)... */
  circuitAfterFailures: number;
  /** ...one per this many ms. */
  circuitProbeMs: number;
  /** The claim's clock (tests pass their own); the database's when absent. */
  now?: Date;
}

/**
 * Leases taken without a claim of their own, under one lease: the ones a writer's fan-out may take as it writes
 * (db/fan-out.ts), the ones a record hands over (db/delivery-attempts.ts). Per lane, how many at most.
 */
export interface LeaseOffer {
  lanes: LaneRequest[];
  leaseToken: string;
  settings: Pick<ClaimSettings, "leaseMs" | "circuitAfterFailures" | "now">;
}

/** A LeaseOffer as a statement's inputs (src/db/unnest.ts): its lanes, and its terms (one row, or none: no offer). */
export const LEASE_OFFER_COLUMNS = {
  lanes: columnsFor<LaneRequest>({
    lane: ["uuid", (x) => x.subscriptionId],
    want: ["int", (x) => x.want],
  }),
  terms: columnsFor<LeaseOffer>({
    token: ["uuid", (x) => x.leaseToken],
    lease_ms: ["float8", (x) => x.settings.leaseMs],
    circuit_after: ["int", (x) => x.settings.circuitAfterFailures],
    at: ["timestamptz", (x) => x.settings.now?.toISOString() ?? null],
  }),
};

/** A claim's row: a lane (no delivery id), or a delivery it leased. */
export interface ClaimRow {
  lane_id: string;
  room: number | null;
  next_at: Date | null;
  ordered: boolean | null;
  url: string | null;
  secret: string | null;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  headers: Record<string, string> | null;
  webhook_delivery_id: string | null;
  event_id: string | null;
  attempts: number | null;
  schedule_step: number | null;
  schedule_started_at: Date | null;
  body: string | null;
  replay_id: string | null;
  destination: BrokerOptions | null;
}

/**
 * Leases due deliveries of these lanes, as many as each lane's limits allow up to what is asked: on its own
 * (`onPool`), or inside the transaction that just wrote the deliveries (the leases commit with them).
 */
export async function claimDeliveries(sql: Sql, requests: LaneRequest[], leaseToken: string, settings: ClaimSettings): Promise<ClaimResult> {
  const rows = await sql.query<ClaimRow>("SELECT * FROM claim_deliveries($1::uuid[], $2::int[], $3, $4::uuid, $5, $6, COALESCE($7::timestamptz, now()))", [
    requests.map((r) => r.subscriptionId),
    requests.map((r) => r.want),
    settings.leaseMs,
    leaseToken,
    settings.circuitAfterFailures,
    settings.circuitProbeMs,
    settings.now?.toISOString() ?? null,
  ]);
  return claimResult(rows, leaseToken);
}

/** A claim's rows as the pump takes them: the lanes, and what they leased (under `leaseToken`). */
export function claimResult(rows: ClaimRow[], leaseToken: string): ClaimResult {
  const lanes: LaneRow[] = [];
  const claimed: ClaimedDelivery[] = [];
  for (const r of rows) {
    if (r.webhook_delivery_id) {
      claimed.push({
        webhookDeliveryId: r.webhook_delivery_id,
        eventId: r.event_id!,
        subscriptionId: r.lane_id,
        attempts: r.attempts!,
        scheduleStep: r.schedule_step!,
        scheduleStartedAt: r.schedule_started_at!,
        body: r.body!,
        leaseToken,
        replayId: r.replay_id,
      });
    } else {
      lanes.push({
        subscriptionId: r.lane_id,
        url: r.url!,
        secret: r.secret!,
        previousSecret: r.previous_secret,
        previousSecretExpiresAt: r.previous_secret_expires_at,
        headers: r.headers ?? {},
        destination: r.destination,
        room: r.room!,
        nextAt: r.next_at,
        ordered: r.ordered ?? false,
      });
    }
  }
  return { lanes, claimed };
}

/** Of these lanes, those that may send now (active, not deleted, not paused), with their URLs. */
export async function activeLanes(db: Database, subscriptionIds: string[]): Promise<{ subscriptionId: string; url: string }[]> {
  return onPool(db).query<{ subscriptionId: string; url: string }>(
    `SELECT id AS "subscriptionId", url FROM subscriptions
      WHERE id = ANY($1::uuid[]) AND status = 'active' AND deleted_at IS NULL AND (paused_until IS NULL OR paused_until <= now())`,
    [subscriptionIds],
  );
}

/**
 * Active, unpaused lanes with a delivery due and not leased: retries whose time came, deliveries committed by
 * a process that could not claim them, leases that ran out. One index probe per lane, except the lanes in
 * `skip` (lanes the caller will claim for anyway: a thousand lanes queued for one slow host's budget are not
 * probed twice a second). The probe is a LATERAL with LIMIT 1, so it stays one probe per lane whatever the
 * statistics say: with an EXISTS, a thousand subscriptions created a moment ago (the planner still counting
 * one) made a plan that read every due delivery once per subscription (159 ms for 1,000 lanes and 500 due
 * deliveries).
 */
export async function lanesWithDueWork(db: Database, skip: string[]): Promise<string[]> {
  const rows = await onPool(db).query<{ id: string }>(
    `SELECT s.id FROM subscriptions s
      CROSS JOIN LATERAL (
        SELECT 1 FROM webhook_deliveries d
         WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= now()
           AND (d.leased_until IS NULL OR d.leased_until <= now())
         LIMIT 1) due
      WHERE s.status = 'active' AND s.deleted_at IS NULL AND (s.paused_until IS NULL OR s.paused_until <= now())
        AND NOT (s.id = ANY($1::uuid[]))`,
    [skip],
  );
  return rows.map((r) => r.id);
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
    `SELECT (SELECT count(*) FROM delivery_slots WHERE subscription_id = $1 AND leased_until > now())::int AS "inFlight",
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
