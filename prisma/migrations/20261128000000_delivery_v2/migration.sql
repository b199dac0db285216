-- Delivery v2 (docs/delivery.md): every subscription is a lane of its own, with its own in-flight limit,
-- optional rate limit and ordering mode; its deliveries wait in Postgres, not in a worker's memory.

-- Per-subscription settings, and the lane's shared state: the rate limiter's theoretical arrival time (GCRA)
-- and a pause asked for by the subscriber (429 Retry-After). Claims lock the row FOR NO KEY UPDATE, which
-- the fan-out's foreign-key checks (FOR KEY SHARE) never wait for.
ALTER TABLE "subscriptions"
    ADD COLUMN "ordering" TEXT NOT NULL DEFAULT 'none',
    ADD COLUMN "max_in_flight" INTEGER NOT NULL DEFAULT 16,
    ADD COLUMN "rate_limit_per_second" DOUBLE PRECISION,
    ADD COLUMN "rate_tat" TIMESTAMPTZ(3),
    ADD COLUMN "paused_until" TIMESTAMPTZ(3),
    ADD COLUMN "pause_reason" TEXT,
    ADD CONSTRAINT "subscriptions_ordering_check" CHECK ("ordering" IN ('none', 'subject')),
    ADD CONSTRAINT "subscriptions_max_in_flight_check" CHECK ("max_in_flight" BETWEEN 1 AND 1000),
    ADD CONSTRAINT "subscriptions_rate_limit_check" CHECK ("rate_limit_per_second" IS NULL OR ("rate_limit_per_second" > 0 AND "rate_limit_per_second" <= 10000));

-- A delivery carries its event's subject and log position (ordered mode), where it stands in the retry
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
   SET "subject" = e."subject", "position" = e."position",
       "next_attempt_at" = COALESCE(d."next_attempt_at", d."created_at"),
       "schedule_step" = d."attempts", "schedule_started_at" = d."created_at"
  FROM "events" e
 WHERE e."id" = d."event_id" AND d."status" = 'pending';

-- What a claim reads: a lane's due deliveries, oldest due first.
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries"("subscription_id", "next_attempt_at") WHERE "status" = 'pending';
-- A lane's attempts in flight (leases are cleared when an attempt is recorded, so this stays small).
CREATE INDEX "webhook_deliveries_leased_idx" ON "webhook_deliveries"("subscription_id", "leased_until") WHERE "leased_until" IS NOT NULL;
-- Ordered mode: a subject's unfinished deliveries in log order.
CREATE INDEX "webhook_deliveries_subject_idx" ON "webhook_deliveries"("subscription_id", "subject", "position") WHERE "status" IN ('pending', 'held');
