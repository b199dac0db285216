-- Consumers: downstream services with credentials of their own (docs/security.md, "Consumers"). A consumer
-- may subscribe to the event types it is allowed (patterns, as subscriptions use them), manage its own
-- subscriptions and read the event log of those types; nothing else. A deleted consumer is kept for the
-- record (its subscriptions are disabled, its tokens refused).
CREATE TABLE "consumers" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "event_types" TEXT[] NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "deleted_at" TIMESTAMPTZ(3),
    "deleted_by" TEXT,
    CONSTRAINT "consumers_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "consumers_name_check" CHECK (length("name") BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX "consumers_live_name_key" ON "consumers" (lower("name")) WHERE "deleted_at" IS NULL;

-- A consumer's tokens live beside the operators' (one look-up for both), with the role `consumer`.
ALTER TABLE "api_tokens" ADD COLUMN "consumer_id" UUID REFERENCES "consumers" ("id");
ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_role_check";
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_role_check"
    CHECK (("role" IN ('viewer', 'operator', 'admin') AND "consumer_id" IS NULL) OR ("role" = 'consumer' AND "consumer_id" IS NOT NULL));
-- Names are unique among live operator tokens; a consumer's tokens are named after it.
DROP INDEX "api_tokens_live_name_key";
CREATE UNIQUE INDEX "api_tokens_live_name_key" ON "api_tokens" (lower("name")) WHERE "revoked_at" IS NULL AND "consumer_id" IS NULL;
CREATE INDEX "api_tokens_consumer_id_idx" ON "api_tokens" ("consumer_id") WHERE "consumer_id" IS NOT NULL;

-- The consumer a subscription belongs to (null: made by an operator).
ALTER TABLE "subscriptions" ADD COLUMN "consumer_id" UUID REFERENCES "consumers" ("id");
CREATE INDEX "subscriptions_consumer_id_idx" ON "subscriptions" ("consumer_id") WHERE "consumer_id" IS NOT NULL;
