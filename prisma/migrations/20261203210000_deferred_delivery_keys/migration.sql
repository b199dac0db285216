-- A delivery's two foreign keys (its event, its subscription) are checked at commit, not after each statement.
-- The drain inserts a delivery and leases it in the same transaction: checked at once, the insert checks both
-- keys and the lease's update checks both again (Postgres re-checks a row its own transaction inserted, even
-- when the keys did not change), each check a key-share lock on the parent row, the subscription's shared by
-- every drain. Checked at commit, only the row's last version is checked: two checks, not four. Integrity is
-- the same: a delivery whose event or subscription is missing still fails its transaction.
ALTER TABLE "webhook_deliveries" ALTER CONSTRAINT "webhook_deliveries_event_id_fkey" DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE "webhook_deliveries" ALTER CONSTRAINT "webhook_deliveries_subscription_id_fkey" DEFERRABLE INITIALLY DEFERRED;
