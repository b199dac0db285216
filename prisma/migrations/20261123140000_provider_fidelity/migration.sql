-- Provider fidelity: what each provider's documentation promises, kept.

-- A reservation the Partner API does not know (404) is not looked up again.
ALTER TABLE "reservations" ADD COLUMN "reconcile_stopped_reason" TEXT;

-- MFB: the order itself (GET /orders/:id, fetched once): how many parcels, which carrier and product, the price.
ALTER TABLE "mfb_orders" ADD COLUMN "parcel_count" INTEGER;
ALTER TABLE "mfb_orders" ADD COLUMN "carrier" TEXT;
ALTER TABLE "mfb_orders" ADD COLUMN "product" TEXT;
ALTER TABLE "mfb_orders" ADD COLUMN "product_name" TEXT;
ALTER TABLE "mfb_orders" ADD COLUMN "price" JSONB;
ALTER TABLE "mfb_orders" ADD COLUMN "details_fetched_at" TIMESTAMPTZ(3);
-- Polls in a row that brought nothing new (each one waits longer, up to a ceiling), and the last news.
ALTER TABLE "mfb_orders" ADD COLUMN "quiet_polls" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "mfb_orders" ADD COLUMN "last_movement_at" TIMESTAMPTZ(3);

-- GreenFlow: the same backoff, and whether the current status is a word the documentation does not define.
ALTER TABLE "greenflow_bookings" ADD COLUMN "quiet_polls" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "greenflow_bookings" ADD COLUMN "unknown_status" BOOLEAN NOT NULL DEFAULT false;
