// Subscriptions: rows and their changes. Writes take `Sql` so they run in the caller's transaction, beside
// their audit row (db/audit.ts `audited`); reads run on the pool.
import type { BrokerOptions } from "../domain/destinations.js";
import type { Filter } from "../domain/filters.js";
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";

export interface Subscription {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  status: string;
  disabledReason: string | null;
  disabledAt: Date | null;
  failingSince: Date | null;
  consecutiveFailures: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  ordering: "none" | "subject";
  maxInFlight: number;
  rateLimitPerSecond: number | null;
  /** The consumer it belongs to; null when an operator made it. */
  consumerId: string | null;
  /** Static request headers sent with every attempt (shown masked: domain/static-headers.ts). */
  headers: Record<string, string>;
  /** CloudEvents Subscriptions API filters; all must match (domain/filters.ts); `[]`: every event of its types. */
  filters: Filter[];
  /** A broker destination's options (its URL is `url`); null for an HTTP endpoint. */
  destination: BrokerOptions | null;
}

/** What a subscription's owner may change after creation. */
export interface SubscriptionSettings {
  description?: string | null;
  eventTypes?: string[];
  ordering?: "none" | "subject";
  maxInFlight?: number;
  rateLimitPerSecond?: number | null;
  headers?: Record<string, string>;
  filters?: Filter[];
}

const COLUMNS = `id, url, event_types AS "eventTypes", description, secret, previous_secret AS "previousSecret",
  previous_secret_expires_at AS "previousSecretExpiresAt", status, disabled_reason AS "disabledReason", disabled_at AS "disabledAt",
  failing_since AS "failingSince", consecutive_failures AS "consecutiveFailures", created_at AS "createdAt", updated_at AS "updatedAt",
  deleted_at AS "deletedAt", ordering, max_in_flight AS "maxInFlight", rate_limit_per_second AS "rateLimitPerSecond",
  consumer_id AS "consumerId", headers, filters, destination`;

export async function insertSubscription(
  sql: Sql,
  input: Pick<Subscription, "id" | "url" | "eventTypes" | "description" | "secret" | "maxInFlight" | "rateLimitPerSecond" | "consumerId"> &
    Partial<Pick<Subscription, "headers" | "filters" | "destination">> & { ordering: string },
): Promise<Subscription> {
  const [row] = await sql.query<Subscription>(
    `INSERT INTO subscriptions (id, url, event_types, description, secret, ordering, max_in_flight, rate_limit_per_second, consumer_id, headers, filters,
                                destination, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()) RETURNING ${COLUMNS}`,
    [
      input.id,
      input.url,
      input.eventTypes,
      input.description,
      input.secret,
      input.ordering,
      input.maxInFlight,
      input.rateLimitPerSecond,
      input.consumerId,
      JSON.stringify(input.headers ?? {}),
      JSON.stringify(input.filters ?? []),
      input.destination ? JSON.stringify(input.destination) : null,
    ],
  );
  return row!;
}

/**
 * The live subscriptions with this exact URL, in the caller's transaction, after taking a lock on the URL (so
 * two creations of one URL are decided one after the other, never both against an empty list).
 */
export async function liveSubscriptionsWithUrl(sql: Sql, url: string): Promise<Subscription[]> {
  await sql.query("SELECT pg_advisory_xact_lock(hashtextextended('subscription-url:' || $1, 0))", [url]);
  return sql.query<Subscription>(`SELECT ${COLUMNS} FROM subscriptions WHERE url = $1 AND deleted_at IS NULL ORDER BY created_at`, [url]);
}

/** Changes the named settings only (absent ones keep their value). */
export async function updateSettings(sql: Sql, id: string, settings: SubscriptionSettings): Promise<Subscription> {
  const has = (key: keyof SubscriptionSettings) => key in settings && settings[key] !== undefined;
  const [row] = await sql.query<Subscription>(
    `UPDATE subscriptions SET
        description = CASE WHEN $2 THEN $3 ELSE description END,
        event_types = CASE WHEN $4 THEN $5::text[] ELSE event_types END,
        ordering = CASE WHEN $6 THEN $7 ELSE ordering END,
        max_in_flight = CASE WHEN $8 THEN $9::int ELSE max_in_flight END,
        rate_limit_per_second = CASE WHEN $10 THEN $11::float8 ELSE rate_limit_per_second END,
        rate_tat = CASE WHEN $10 THEN NULL ELSE rate_tat END,
        headers = CASE WHEN $12 THEN $13::jsonb ELSE headers END,
        filters = CASE WHEN $14 THEN $15::jsonb ELSE filters END,
        updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      has("description"),
      settings.description ?? null,
      has("eventTypes"),
      settings.eventTypes ?? null,
      has("ordering"),
      settings.ordering ?? null,
      has("maxInFlight"),
      settings.maxInFlight ?? null,
      "rateLimitPerSecond" in settings,
      settings.rateLimitPerSecond ?? null,
      has("headers"),
      settings.headers ? JSON.stringify(settings.headers) : null,
      has("filters"),
      settings.filters ? JSON.stringify(settings.filters) : null,
    ],
  );
  return row!;
}

/** A subscription that is not deleted; locked (FOR UPDATE) when read inside a transaction that changes it. */
export async function findLiveSubscription(sql: Sql, id: string, forUpdate = false): Promise<Subscription | null> {
  const [row] = await sql.query<Subscription>(
    `SELECT ${COLUMNS} FROM subscriptions WHERE id = $1::uuid AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return row ?? null;
}

export function getSubscription(db: Database, id: string): Promise<Subscription | null> {
  return findLiveSubscription(onPool(db), id);
}

/** Every subscription not deleted (or one consumer's), oldest first. */
export function listSubscriptions(db: Database, consumerId?: string): Promise<Subscription[]> {
  return consumerId
    ? onPool(db).query<Subscription>(`SELECT ${COLUMNS} FROM subscriptions WHERE deleted_at IS NULL AND consumer_id = $1 ORDER BY created_at, id`, [consumerId])
    : onPool(db).query<Subscription>(`SELECT ${COLUMNS} FROM subscriptions WHERE deleted_at IS NULL ORDER BY created_at, id`);
}

export async function updateSecret(sql: Sql, id: string, secret: string, previousSecret: string, previousSecretExpiresAt: Date): Promise<Subscription> {
  const [row] = await sql.query<Subscription>(
    `UPDATE subscriptions SET secret = $2, previous_secret = $3, previous_secret_expires_at = $4, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, secret, previousSecret, previousSecretExpiresAt],
  );
  return row!;
}

/** Enabling also clears the failure run; disabling records why and when. */
export async function updateEnabled(sql: Sql, id: string, enabled: boolean): Promise<Subscription> {
  const [row] = await sql.query<Subscription>(
    enabled
      ? `UPDATE subscriptions SET status = 'active', disabled_reason = NULL, disabled_at = NULL, failing_since = NULL, consecutive_failures = 0,
          updated_at = now()
          WHERE id = $1 RETURNING ${COLUMNS}`
      : `UPDATE subscriptions SET status = 'disabled', disabled_reason = 'disabled by an operator', disabled_at = now(), updated_at = now()
          WHERE id = $1 RETURNING ${COLUMNS}`,
    [id],
  );
  return row!;
}

export async function markDeleted(sql: Sql, id: string): Promise<void> {
  await sql.query("UPDATE subscriptions SET deleted_at = now(), status = 'disabled', disabled_reason = 'deleted', updated_at = now() WHERE id = $1", [id]);
}

export interface SubscriptionOverview {
  id: string;
  url: string;
  status: string;
  disabledReason: string | null;
  consecutiveFailures: number;
  failingSince: Date | null;
  createdAt: Date;
  /** Deliveries that need a look, by status (pending, held, failed, cancelled), each counted up to OVERVIEW_COUNT_CAP + 1. */
  counts: Record<string, number>;
  succeededLastDay: number;
  lastSuccessAt: Date | null;
}

/** A count on the overview stops here: a page costs the same with a million deliveries as with a hundred. */
export const OVERVIEW_COUNT_CAP = 10_000;

/**
 * The page first (its subscriptions, by the keyset cursor), then the page's statistics: each count is one
 * range of the index (subscription_id, status, created_at), read up to OVERVIEW_COUNT_CAP + 1 entries.
 */
export const OVERVIEW_SQL = `
WITH page AS MATERIALIZED (
  SELECT s.id, s.url, s.status, s.disabled_reason, s.consecutive_failures, s.failing_since, s.created_at
    FROM subscriptions s
   WHERE s.deleted_at IS NULL AND ($1::timestamptz IS NULL OR (s.created_at, s.id) > ($1::timestamptz, $2::uuid))
   ORDER BY s.created_at, s.id
   LIMIT $3
)
SELECT p.*, COALESCE(c.counts, '{}'::json) AS counts, ok.n AS succeeded_last_day, l.at AS last_success_at
  FROM page p
  LEFT JOIN LATERAL (
    SELECT json_object_agg(st.status, x.n) FILTER (WHERE x.n > 0) AS counts
      FROM unnest(ARRAY['pending', 'held', 'failed', 'cancelled']) AS st(status)
      CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM (
        SELECT 1 FROM webhook_deliveries d WHERE d.subscription_id = p.id AND d.status = st.status LIMIT ${OVERVIEW_COUNT_CAP + 1}) y) x) c ON true
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM webhook_deliveries d
       WHERE d.subscription_id = p.id AND d.status = 'succeeded' AND d.created_at > now() - interval '24 hours' LIMIT ${OVERVIEW_COUNT_CAP + 1}) y) ok
  LEFT JOIN LATERAL (
    -- Through webhook_deliveries_succeeded_idx: without it, the planner may walk (status, created_at) backwards
    -- and filter on the subscription, which for one with no success at all reads every success there is.
    SELECT d.completed_at AS at FROM webhook_deliveries d
     WHERE d.subscription_id = p.id AND d.status = 'succeeded' ORDER BY d.created_at DESC LIMIT 1) l ON true
 ORDER BY p.created_at, p.id`;

/**
 * One page of live subscriptions (oldest first, after a keyset cursor), with their deliveries that need a look
 * counted, their successes of the last 24 hours and their last success, in one statement that reads the page
 * first and the statistics of its rows only; a count past OVERVIEW_COUNT_CAP reads as OVERVIEW_COUNT_CAP + 1.
 */
export async function subscriptionOverview(db: Database, opts: { limit: number; after?: { createdAt: Date; id: string } }): Promise<SubscriptionOverview[]> {
  const rows = await onPool(db).query<{
    id: string;
    url: string;
    status: string;
    disabled_reason: string | null;
    consecutive_failures: number;
    failing_since: Date | null;
    created_at: Date;
    counts: Record<string, number>;
    succeeded_last_day: number;
    last_success_at: Date | null;
  }>(OVERVIEW_SQL, [opts.after?.createdAt ?? null, opts.after?.id ?? null, opts.limit]);
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    status: r.status,
    disabledReason: r.disabled_reason,
    consecutiveFailures: r.consecutive_failures,
    failingSince: r.failing_since,
    createdAt: r.created_at,
    counts: r.counts,
    succeededLastDay: r.succeeded_last_day,
    lastSuccessAt: r.last_success_at,
  }));
}
