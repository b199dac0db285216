-- Delivery v2 (docs/delivery.md): every subscription is a lane of its own, with its own in-flight limit,
-- optional rate limit and ordering mode; its deliveries wait in Postgres, not in a worker's memory.

-- Per-subscription settings, and the lane's shared state: the rate limiter's theoretical arrival time (GCRA)
-- and a pause asked for by the subscriber (429 Retry-After). Claims lock the row FOR NO KEY UPDATE, which
-- the fan-out's foreign-key checks (FOR KEY SHARE) never wait for.
ALTER TABLE "subscriptions"
    ADD COLUMN "ordering" TEXT NOT NULL DEFAULT 'none',
    ADD COLUMN "max_in_flight" INTEGER NOT NULL DEFAULT 64,
    ADD COLUMN "rate_limit_per_second" DOUBLE PRECISION,
    ADD COLUMN "rate_tat" TIMESTAMPTZ(3),
    ADD COLUMN "paused_until" TIMESTAMPTZ(3),
    ADD COLUMN "pause_reason" TEXT,
    ADD CONSTRAINT "subscriptions_ordering_check" CHECK ("ordering" IN ('none', 'subject')),
    ADD CONSTRAINT "subscriptions_max_in_flight_check" CHECK ("max_in_flight" BETWEEN 1 AND 1000),
    ADD CONSTRAINT "subscriptions_rate_limit_check" CHECK ("rate_limit_per_second" IS NULL OR ("rate_limit_per_second" > 0 AND "rate_limit_per_second" <= 10000));

-- A delivery carries its event's log position and, for a subscription in ordered mode, its subject; where it stands in the retry
-- schedule, and the lease of the worker process attempting it (null when none is).
--   status: pending (due at next_attempt_at) | held (ordered mode: waits for the subject's earlier event)
--           | succeeded | failed | cancelled
ALTER TABLE "webhook_deliveries"
    ADD COLUMN "subject" TEXT,
    ADD COLUMN "position" BIGINT,
    ADD COLUMN "schedule_step" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "schedule_started_at" TIMESTAMPTZ(3),
    ADD COLUMN "leased_until" TIMESTAMPTZ(3),
    ADD COLUMN "lease_token" UUID;

-- Deliveries still waiting keep their place: due now (or when their retry said), their step as attempted.
UPDATE "webhook_deliveries" d
   SET "position" = e."position",
       "next_attempt_at" = COALESCE(d."next_attempt_at", d."created_at"),
       "schedule_step" = d."attempts", "schedule_started_at" = d."created_at"
  FROM "events" e
 WHERE e."id" = d."event_id" AND d."status" = 'pending';

-- What a claim reads: a lane's due deliveries, oldest due first (log order among equals), in index order.
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries"("subscription_id", "next_attempt_at", "position") WHERE "status" = 'pending';
-- A lane's attempts in flight (leases are cleared when an attempt is recorded, so this stays small).
CREATE INDEX "webhook_deliveries_leased_idx" ON "webhook_deliveries"("subscription_id", "leased_until") WHERE "leased_until" IS NOT NULL;
-- Ordered mode: a subject's unfinished deliveries in log order (only ordered subscriptions' rows carry a subject).
CREATE INDEX "webhook_deliveries_subject_idx" ON "webhook_deliveries"("subscription_id", "subject", "position") WHERE "status" IN ('pending', 'held') AND "subject" IS NOT NULL;

-- One claim of the delivery pump (src/db/delivery-lanes.ts), in one round trip. For each lane asked for
-- (p_ids, with how many this worker process would take: p_wants):
--   1. lock the lanes not being claimed elsewhere (the subscriptions' rows, FOR NO KEY UPDATE SKIP LOCKED;
--      the fan-out's foreign-key checks take FOR KEY SHARE and never wait for it);
--   2. in a second statement, whose snapshot is taken after the locks are held (plpgsql gives each statement
--      its own), count the lane's leases in every process and take the due deliveries that its in-flight
--      limit, its rate limit (GCRA, a burst of one second's worth) and, while its last p_circuit_after attempts
--      all failed, one probe per p_probe_ms allow; in ordered mode only the first unfinished delivery of a
--      subject, and none while one of the subject is in flight; lease them and advance the rate limiter.
-- Returns one row per locked lane (room: how many it could lease; next_at: when its rate allows the next,
-- if the rate held it back; ordered: its mode) and one row per leased delivery, with the body to send (the
-- event's envelope as JSON text, as stored: no parsing in the worker).
CREATE FUNCTION "claim_deliveries"(p_ids UUID[], p_wants INTEGER[], p_lease_ms DOUBLE PRECISION, p_token UUID, p_circuit_after INTEGER, p_probe_ms DOUBLE PRECISION)
RETURNS TABLE (lane_id UUID, room INTEGER, next_at TIMESTAMPTZ, ordered BOOLEAN, url TEXT, secret TEXT, previous_secret TEXT, previous_secret_expires_at TIMESTAMPTZ,
               delivery_id UUID, event_id UUID, attempts INTEGER, schedule_step INTEGER, schedule_started_at TIMESTAMPTZ, body TEXT)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_locked UUID[];
BEGIN
  SELECT array_agg(x.id) INTO v_locked FROM (
    SELECT s.id FROM subscriptions s
     WHERE s.id = ANY(p_ids) AND s.status = 'active' AND s.deleted_at IS NULL AND (s.paused_until IS NULL OR s.paused_until <= now())
     ORDER BY s.id FOR NO KEY UPDATE SKIP LOCKED) x;
  IF v_locked IS NULL THEN RETURN; END IF;

  RETURN QUERY
  WITH lane AS (
    SELECT s.id, s.url, s.secret, s.previous_secret, s.previous_secret_expires_at, s.ordering = 'subject' AS ordered, w.want,
           (p_circuit_after > 0 AND s.consecutive_failures >= p_circuit_after) AS probing, s.max_in_flight, s.rate_limit_per_second, s.rate_tat
      FROM unnest(p_ids, p_wants) AS w(id, want) JOIN subscriptions s ON s.id = w.id
     WHERE s.id = ANY(v_locked)
  ), limits AS (
    SELECT l.*,
           CASE WHEN l.probing THEN 1 ELSE l.max_in_flight END AS max_now,
           CASE WHEN l.probing THEN least(coalesce(l.rate_limit_per_second, 1000 / p_probe_ms), 1000 / p_probe_ms) ELSE l.rate_limit_per_second END AS rate,
           extract(epoch FROM now()) * 1000 AS now_ms
      FROM lane l
  ), sized AS (
    SELECT m.*,
           greatest(0, least(m.want, m.max_now - (SELECT count(*) FROM webhook_deliveries f WHERE f.subscription_id = m.id AND f.leased_until > now())::int)) AS by_limit,
           greatest(coalesce(extract(epoch FROM m.rate_tat) * 1000, 0), m.now_ms) AS start_ms,
           1000 / m.rate AS interval_ms,
           -- A probe is one request: no burst while the circuit is open.
           CASE WHEN m.probing THEN 1 ELSE greatest(1, floor(m.rate)) END AS burst
      FROM limits m
  ), room AS (
    SELECT z.*,
           CASE WHEN z.rate IS NULL THEN z.by_limit
                ELSE least(z.by_limit, greatest(0, floor((z.now_ms + z.burst * z.interval_ms - z.start_ms) / z.interval_ms + 1e-9))::int) END AS n
      FROM sized z
  ), picked AS (
    SELECT p.id FROM room r CROSS JOIN LATERAL (
      SELECT d.id FROM webhook_deliveries d
       WHERE d.subscription_id = r.id AND d.status = 'pending' AND d.next_attempt_at <= now()
         AND (d.leased_until IS NULL OR d.leased_until <= now())
         AND (NOT r.ordered OR NOT EXISTS (
               SELECT 1 FROM webhook_deliveries o
                WHERE o.subscription_id = d.subscription_id AND o.subject = d.subject AND o.status IN ('pending', 'held') AND o.id <> d.id
                  AND (o.position < d.position OR o.leased_until > now())))
       ORDER BY d.next_attempt_at, d.position
       LIMIT r.n
       -- A row an attempt recorder is writing right now (a lease that ran out) is left for the next claim:
       -- waiting for it here, while holding the lane, could deadlock with that recorder.
       FOR UPDATE OF d SKIP LOCKED
    ) p
  ), leased AS (
    UPDATE webhook_deliveries d
       SET leased_until = now() + make_interval(secs => p_lease_ms / 1000), lease_token = p_token
      FROM picked WHERE d.id = picked.id
    RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.schedule_step, COALESCE(d.schedule_started_at, d.created_at) AS schedule_started_at
  ), sent AS (
    SELECT subscription_id, count(*) AS got FROM leased GROUP BY subscription_id
  ), advanced AS (
    UPDATE subscriptions s SET rate_tat = to_timestamp((r.start_ms + c.got * r.interval_ms) / 1000)
      FROM room r JOIN sent c ON c.subscription_id = r.id
     WHERE s.id = r.id AND r.rate IS NOT NULL
  )
  SELECT r.id, r.n,
         CASE WHEN r.rate IS NOT NULL AND r.n < r.by_limit
              THEN CASE WHEN r.n = 0 THEN to_timestamp((r.start_ms - (r.burst - 1) * r.interval_ms) / 1000)
                        ELSE now() + make_interval(secs => r.interval_ms / 1000) END END,
         r.ordered, r.url, r.secret, r.previous_secret, r.previous_secret_expires_at,
         NULL::uuid, NULL::uuid, NULL::int, NULL::int, NULL::timestamptz, NULL::text
    FROM room r
  UNION ALL
  SELECT l.subscription_id, NULL::int, NULL::timestamptz, NULL::boolean, NULL, NULL, NULL, NULL::timestamptz,
         l.id, l.event_id, l.attempts, l.schedule_step, l.schedule_started_at, e.envelope::text
    FROM leased l JOIN events e ON e.id = l.event_id;
END $$;
