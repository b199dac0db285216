-- Retention: what each kind of data keeps, and the indexes that let pruning find its oldest rows cheaply.

-- A stored delivery's raw body is dropped after its retention; the row (digest, outcome) stays longer, so a
-- late redelivery is still recognised as a duplicate.
ALTER TABLE "inbound_deliveries" ADD COLUMN "body_pruned_at" TIMESTAMPTZ(3);
CREATE INDEX "inbound_deliveries_body_kept_idx" ON "inbound_deliveries"("received_at") WHERE "body_pruned_at" IS NULL;
CREATE INDEX "inbound_deliveries_received_at_idx" ON "inbound_deliveries"("received_at");

-- Positions at or below this were pruned: GET /events answers an older cursor with 410.
ALTER TABLE "event_log_head" ADD COLUMN "pruned_through" BIGINT NOT NULL DEFAULT 0;
CREATE INDEX "events_created_at_idx" ON "events"("created_at");

CREATE INDEX "webhook_deliveries_status_completed_at_idx" ON "webhook_deliveries"("status", "completed_at");
CREATE INDEX "mfb_orders_stopped_at_idx" ON "mfb_orders"("stopped_at") WHERE NOT "active";
CREATE INDEX "greenflow_bookings_stopped_at_idx" ON "greenflow_bookings"("stopped_at") WHERE NOT "active";
