-- Tracking that tells (docs/events.md):
-- 1. Two MFB carrier events that differ in any field (label, location, details) are two events: the unique key
--    takes a fingerprint of those fields, computed by Postgres from the stored JSON (so a re-read of the same
--    event, whatever its key order, matches its row).
ALTER TABLE "mfb_tracking_events" ADD COLUMN "fingerprint" TEXT NOT NULL
  GENERATED ALWAYS AS (md5(coalesce("label"::text, '') || '|' || coalesce("location"::text, '') || '|' || coalesce("details"::text, ''))) STORED;
DROP INDEX IF EXISTS "mfb_tracking_events_order_id_parcel_index_code_happened_at_key";
CREATE UNIQUE INDEX "mfb_tracking_events_identity_key" ON "mfb_tracking_events"("order_id", "parcel_index", "code", "happened_at", "fingerprint");

-- 2. One word per way tracking stops short of a final status, the same in the API and in
--    `<entity>.tracking_stopped` events.
UPDATE "mfb_orders" SET "stopped_reason" = CASE "stopped_reason"
    WHEN 'order_not_found' THEN 'not_found'
    WHEN 'access_denied_for_this_order' THEN 'access_denied'
    WHEN 'no_tracking_movement' THEN 'no_movement'
    ELSE "stopped_reason" END
  WHERE "stopped_reason" IN ('order_not_found', 'access_denied_for_this_order', 'no_tracking_movement');
UPDATE "greenflow_bookings" SET "stopped_reason" = 'not_found' WHERE "stopped_reason" = 'booking_not_found_or_lastname_mismatch';

-- 3. GreenFlow: the booking's IANA time zone (its pickup and dropoff times have no offset), and one booking
--    whichever of its two codes it was registered by: `registered_code` is what the caller gave; the row's
--    booking_code becomes GreenFlow's booking_code on the first read. A local number belongs to one booking.
ALTER TABLE "greenflow_bookings" ADD COLUMN "time_zone" TEXT;
ALTER TABLE "greenflow_bookings" ADD COLUMN "registered_code" TEXT;
-- Before this, a booking registered once by each code was two rows: the one registered by its local number
-- (booking_code = local_number) stops, as merged into the other, and gives the local number up.
WITH ranked AS (
  SELECT booking_code, row_number() OVER (PARTITION BY local_number ORDER BY (booking_code = local_number), created_at) AS rank
    FROM "greenflow_bookings" WHERE local_number IS NOT NULL
)
UPDATE "greenflow_bookings" g SET local_number = NULL, active = false, next_poll_at = NULL, stopped_reason = 'merged', stopped_at = now()
  FROM ranked r WHERE r.booking_code = g.booking_code AND r.rank > 1;
DROP INDEX IF EXISTS "greenflow_bookings_local_number_idx";
CREATE UNIQUE INDEX "greenflow_bookings_local_number_key" ON "greenflow_bookings"("local_number");
CREATE INDEX "greenflow_bookings_registered_code_idx" ON "greenflow_bookings"("registered_code");
