// Shared SQL for the last step of every event write: take positions at the head of the public log and
// fan each event out to the active subscriptions whose event types match. Used inside one statement
// (data-modifying CTEs) by the Flovi inbox and by the outbox relay.
import type { BrokerOptions } from "../domain/destinations.js";
import type { ClaimedDelivery, LaneRow, LeaseOffer } from "./delivery-lanes.js";

/**
 * Whether one of the patterns in `patternsExpr` (`*`, `<entity>.*`, or a type) matches the type `typeExpr`
 * (`<entity>.<status>`): the three patterns that match a type, overlapping the array. Patterns are checked
 * when they are set (domain/events.ts isKnownEventPattern), and one expression costs a third of a subquery
 * over the patterns, which the fan-out runs for every active subscription and event.
 */
export const matchesPatterns = (patternsExpr: string, typeExpr: string) =>
  `${patternsExpr} && ARRAY['*', ${typeExpr}, split_part(${typeExpr}, '.', 1) || '.*']`;

/**
 * Whether subscription `s` takes an event of type `typeExpr`: `reservation.sealed` matches `*`,
 * `reservation.*` and `reservation.sealed` (the one definition; test/integration/fan-out-sql.test.ts).
 */
export const matchesSubscription = (typeExpr: string) => matchesPatterns("s.event_types", typeExpr);

/**
 * Whether subscription `s` takes event `ev` (an alias with `type` and `envelope`): its event types, then its
 * filters (domain/filters.ts). The fan-out, the backlog's marker match and a replay take events by this rule.
 */
export const takesEvent = (ev: string) => `${matchesSubscription(`${ev}.type`)} AND (s.filters = '[]'::jsonb OR hub_filter_matches(s.filters, ${ev}.envelope))`;

/**
 * A new delivery's status: in ordered mode (docs/delivery.md) `held` when it is not its subject's first in
 * what is written (`nth`) or its subject already has an unfinished delivery to that subscription, else
 * `pending`. The fan-out and a replay write by this one rule.
 */
export const orderedStatus = (ordering: string, nth: string, subscriptionId: string, subject: string) =>
  `CASE WHEN ${ordering} = 'subject' AND (${nth} > 1 OR EXISTS (
                SELECT 1 FROM webhook_deliveries u
                 WHERE u.subscription_id = ${subscriptionId} AND u.subject = ${subject} AND u.status IN ('pending', 'held')))
              THEN 'held' ELSE 'pending' END`;

/** Where a writer's fan-out may lease first attempts (db/reservation-writes.ts): SQL row sources. */
export interface FanOutLeaseSql {
  /** Rows (lane uuid, want int): how many new deliveries of each lane this process offers to start. */
  offer: string;
  /** One row (token uuid, lease_ms float8, circuit_after int, at timestamptz) or none (no leases). */
  terms: string;
}

/**
 * With more active subscriptions than this, an event is fanned out in two steps. Its writer's transaction
 * matches only the subscriptions that must or can start at once: ordered ones (a subject's order is decided as
 * the rows are written) and, up to this many, the lanes the writer offers to start. It writes their deliveries
 * and one marker row in fan_out_backlog (destination '') standing for every other subscription the event
 * takes; after the commit the relay matches the event against those (db/fan-out-backlog.ts) and writes their
 * deliveries as each destination can take them. So a webhook taken by a thousand subscriptions neither holds
 * every other lane's first attempt behind a thousand-row insert nor costs its writer a thousand matches.
 */
export const INLINE_FAN_OUT = 64;

export interface FanOutOptions {
  /** The writer's own first attempts, leased as the rows are written. */
  lease?: FanOutLeaseSql;
}

/**
 * `fan_out` CTE over a CTE `source` with columns (id, type, subject, position, envelope): one delivery per
 * matching subscription (its event types, then its filters: domain/filters.ts), due now. For a subscription
 * in ordered mode (docs/delivery.md) a delivery is `held` when its subject already has an unfinished delivery
 * to that subscription, or an earlier event in the same batch: it is released (db/delivery-attempts.ts) when
 * the one before it is delivered or has finally failed. Only an ordered subscription's deliveries carry their
 * subject (which keeps the subject index to them alone).
 *
 * With more than INLINE_FAN_OUT active subscriptions, only the ordered ones and the first INLINE_FAN_OUT
 * offered lanes are matched here; a `deferred` CTE writes one marker row per event to fan_out_backlog for the
 * rest (the caller nudges the relay, which matches and writes them: db/fan-out-backlog.ts).
 *
 * With `lease`, the writer's own first attempts are leased as the rows are written (one row version, no claim
 * afterwards): for each offered lane that may send without taking turns (active, not paused, unordered, no
 * rate limit, circuit closed), as many of its new deliveries as it was offered and has free slots, the slots
 * taken with SKIP LOCKED as a claim takes them. Every other new delivery is left due and unleased for the
 * claim (db/delivery-lanes.ts). `fan_out` then returns `slot` (null when not leased).
 */
export const fanOutCte = (source: string, { lease }: FanOutOptions = {}) => {
  const offered = lease ? `(SELECT o.lane FROM ${lease.offer} WHERE o.want > 0)` : "(SELECT NULL::uuid AS lane WHERE false)";
  // `many`: more active subscriptions than INLINE_FAN_OUT (counted no further), the two-step fan-out.
  const staged = `
many AS (
  SELECT count(*) > ${INLINE_FAN_OUT} AS many FROM (
    SELECT 1 FROM subscriptions WHERE status = 'active' AND deleted_at IS NULL LIMIT ${INLINE_FAN_OUT + 1}) active
), matched AS (
  SELECT ev.id, ev.subject, ev.position, s.id AS subscription_id, s.ordering, s.max_in_flight, s.rate_limit_per_second, s.paused_until,
         s.consecutive_failures, row_number() OVER (PARTITION BY s.id, ev.subject ORDER BY ev.position) AS nth,
         row_number() OVER (PARTITION BY ev.id, s.ordering = 'subject' ORDER BY s.id) AS pick, many.many
    FROM ${source} ev CROSS JOIN many
         JOIN subscriptions s ON s.status = 'active' AND s.deleted_at IS NULL
          AND (NOT many.many OR s.ordering = 'subject' OR s.id IN ${offered})
          AND ${takesEvent("ev")}
), staged AS (
  SELECT m.*, ${orderedStatus("m.ordering", "m.nth", "m.subscription_id", "m.subject")} AS status
    FROM matched m WHERE NOT m.many OR m.ordering = 'subject' OR m.pick <= ${INLINE_FAN_OUT}
), deferred AS (
  INSERT INTO fan_out_backlog (event_id, destination_key, position, subscription_ids)
  SELECT ev.id, '', ev.position, '{}' FROM ${source} ev CROSS JOIN many WHERE many.many
  ON CONFLICT (event_id, destination_key) DO NOTHING
  RETURNING event_id
)`;
  const columns = "id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at";
  const values =
    "gen_random_uuid(), st.id, st.subscription_id, st.status, CASE WHEN st.ordering = 'subject' THEN st.subject END, st.position, now(), now(), now()";
  if (!lease)
    return `${staged},
fan_out AS (
  INSERT INTO webhook_deliveries (${columns})
  SELECT ${values} FROM staged st
  ON CONFLICT (event_id, subscription_id, replay_id) DO NOTHING
  RETURNING id, event_id, subscription_id, status
)`;
  return `${staged},
lease_terms AS (
  SELECT t.token, t.at + make_interval(secs => t.lease_ms / 1000) AS until, t.circuit_after, t.at
    FROM (SELECT token, lease_ms, circuit_after, COALESCE(at, now()) AS at FROM ${lease.terms}) t
), lease_lanes AS (
  SELECT n.subscription_id, least(o.want, n.new) AS want, n.max_in_flight
    FROM (SELECT subscription_id, max_in_flight, count(*)::int AS new FROM staged st, lease_terms t
           WHERE st.status = 'pending' AND st.ordering <> 'subject' AND st.rate_limit_per_second IS NULL
             AND (st.paused_until IS NULL OR st.paused_until <= t.at) AND (t.circuit_after = 0 OR st.consecutive_failures < t.circuit_after)
           GROUP BY subscription_id, max_in_flight) n
    JOIN ${lease.offer} ON o.lane = n.subscription_id
   WHERE o.want > 0
), lease_slots AS (
  SELECT l.subscription_id, f.slot, row_number() OVER (PARTITION BY l.subscription_id ORDER BY f.slot) AS k
    FROM lease_lanes l CROSS JOIN lease_terms t CROSS JOIN LATERAL (
      SELECT ds.slot FROM delivery_slots ds
       WHERE ds.subscription_id = l.subscription_id AND ds.slot < l.max_in_flight AND (ds.leased_until IS NULL OR ds.leased_until <= t.at)
       ORDER BY ds.slot LIMIT l.want
       FOR UPDATE SKIP LOCKED) f
), fan_out AS (
  INSERT INTO webhook_deliveries (${columns}, leased_until, lease_token, slot)
  SELECT ${values}, t.until, t.token, ls.slot
    FROM (SELECT staged.*, row_number() OVER (PARTITION BY subscription_id, status ORDER BY position) AS k FROM staged) st
    LEFT JOIN lease_slots ls ON ls.subscription_id = st.subscription_id AND ls.k = st.k AND st.status = 'pending'
    LEFT JOIN lease_terms t ON ls.slot IS NOT NULL
  ON CONFLICT (event_id, subscription_id, replay_id) DO NOTHING
  RETURNING id, event_id, subscription_id, status, slot, schedule_started_at
), lease_taken AS (
  UPDATE delivery_slots ds SET lease_token = t.token, leased_until = t.until
    FROM fan_out f, lease_terms t WHERE f.slot IS NOT NULL AND ds.subscription_id = f.subscription_id AND ds.slot = f.slot
)`;
};

/**
 * `fanOutCte` with leases, then each new delivery; a leased one with what its attempt needs (the request body
 * from `source.body`, its lane's target and secrets), so that it starts once the writer commits.
 */
export const fanOutLeasingFrom = (source: string, lease: FanOutLeaseSql) => `${fanOutCte(source, { lease })}
SELECT (SELECT count(DISTINCT event_id) FROM deferred)::int AS deferred, f.id AS delivery_id, f.event_id, f.subscription_id, f.status, f.slot, f.schedule_started_at,
       ev.body, s.url, s.secret, s.previous_secret, s.previous_secret_expires_at, s.headers, s.destination
  FROM (SELECT 1) one LEFT JOIN (fan_out f LEFT JOIN ${source} ev ON f.slot IS NOT NULL AND ev.id = f.event_id
       LEFT JOIN subscriptions s ON f.slot IS NOT NULL AND s.id = f.subscription_id) ON true`;

export interface FannedOutRow {
  /** How many events left deliveries to the backlog (the same on every row; the one row when none was written). */
  deferred: number;
  delivery_id: string | null;
  event_id: string;
  subscription_id: string;
  status: "pending" | "held";
  /** With leases (`fanOutLeasingFrom`): the slot a leased delivery took, and what its attempt needs. */
  slot?: number | null;
  schedule_started_at?: Date | null;
  body?: string | null;
  url?: string | null;
  secret?: string | null;
  previous_secret?: string | null;
  previous_secret_expires_at?: Date | null;
  headers?: Record<string, string> | null;
  destination?: BrokerOptions | null;
}

/** What a writer's fan-out wrote: the new deliveries, and how many events left some to the backlog. */
export interface FannedOut {
  deliveries: NewDelivery[];
  /** Events whose remaining deliveries the relay writes after the commit (the writer nudges it). */
  deferred: number;
}

/** The rows of `fanOutLeasingFrom`, as deliveries (leased ones with `leaseToken`). */
export function toFannedOut(rows: FannedOutRow[], leaseToken?: string): FannedOut {
  return {
    deliveries: rows.flatMap((row) => (row.delivery_id ? [toNewDelivery(row as FannedOutRow & { delivery_id: string }, leaseToken)] : [])),
    deferred: rows[0]?.deferred ?? 0,
  };
}

/** The leases a writer's fan-out may take (delivery/pump.ts `claimWithin` offers them). */
/** The leases a writer's fan-out may take as it writes: per lane, how many new deliveries at most (its fair share). */
export type FanOutLease = LeaseOffer;

/** A first attempt leased by the fan-out itself: it starts once the writer's transaction commits. */
export interface LeasedAttempt {
  claimed: ClaimedDelivery;
  lane: LaneRow;
}

/** A delivery created by a fan-out: its lane (subscription) is told, and claims it (delivery/pump.ts). */
export interface NewDelivery {
  webhookDeliveryId: string;
  eventId: string;
  subscriptionId: string;
  status: "pending" | "held";
  /** Leased by the fan-out (its first attempt needs no claim). */
  leased?: LeasedAttempt;
}

function toNewDelivery(row: FannedOutRow & { delivery_id: string }, leaseToken?: string): NewDelivery {
  const delivery: NewDelivery = { webhookDeliveryId: row.delivery_id, eventId: row.event_id, subscriptionId: row.subscription_id, status: row.status };
  if (row.slot == null || !leaseToken) return delivery;
  const claimed: ClaimedDelivery = {
    webhookDeliveryId: row.delivery_id,
    eventId: row.event_id,
    subscriptionId: row.subscription_id,
    attempts: 0,
    scheduleStep: 0,
    scheduleStartedAt: row.schedule_started_at!,
    body: row.body!,
    leaseToken,
  };
  const lane: LaneRow = {
    subscriptionId: row.subscription_id,
    url: row.url!,
    secret: row.secret!,
    previousSecret: row.previous_secret ?? null,
    previousSecretExpiresAt: row.previous_secret_expires_at ?? null,
    headers: row.headers ?? {},
    destination: row.destination ?? null,
    room: 0,
    nextAt: null,
    ordered: false,
  };
  return { ...delivery, leased: { claimed, lane } };
}
