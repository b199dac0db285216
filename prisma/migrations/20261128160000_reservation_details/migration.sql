-- What Flovi's Partner API says of a reservation beyond its state (reservation type, schedule windows, route,
-- origin, destination, vehicle), fetched once after its first report; every later event carries it in
-- data.details. `details_fetched_at` is set when the look-up ended (found, or Flovi will not tell:
-- `details_unavailable` says why).
ALTER TABLE "reservations" ADD COLUMN "details" JSONB;
ALTER TABLE "reservations" ADD COLUMN "details_fetched_at" TIMESTAMPTZ(3);
ALTER TABLE "reservations" ADD COLUMN "details_unavailable" TEXT;
CREATE INDEX "reservations_details_pending_idx" ON "reservations"("created_at") WHERE "details_fetched_at" IS NULL;
