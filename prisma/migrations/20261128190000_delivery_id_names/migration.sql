-- The last two columns named plain `delivery_id` say which delivery they mean: a reservation transition's is
-- the inbound (Flovi) delivery that caused it, an attempt's is the webhook delivery it tried. Indexes and
-- foreign keys follow the names. Renames are catalog changes: instant, no table rewrite. Processes of the
-- previous release read the old names: stop them before this runs (docs/operations.md, "Upgrading").
ALTER TABLE "reservation_transitions" RENAME COLUMN "delivery_id" TO "inbound_delivery_id";
ALTER INDEX "reservation_transitions_delivery_id_key" RENAME TO "reservation_transitions_inbound_delivery_id_key";
ALTER TABLE "reservation_transitions" RENAME CONSTRAINT "reservation_transitions_delivery_id_fkey" TO "reservation_transitions_inbound_delivery_id_fkey";

ALTER TABLE "delivery_attempts" RENAME COLUMN "delivery_id" TO "webhook_delivery_id";
ALTER INDEX "delivery_attempts_delivery_id_id_idx" RENAME TO "delivery_attempts_webhook_delivery_id_id_idx";
ALTER TABLE "delivery_attempts" RENAME CONSTRAINT "delivery_attempts_delivery_id_fkey" TO "delivery_attempts_webhook_delivery_id_fkey";
