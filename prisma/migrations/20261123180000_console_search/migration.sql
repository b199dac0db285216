-- The operator console's search: a reservation by Flovi's external id, an MFB order by reference, a GreenFlow
-- booking by local number (each otherwise a full scan).
CREATE INDEX "reservations_external_id_idx" ON "reservations"("external_id");
CREATE INDEX "mfb_orders_reference_idx" ON "mfb_orders"("reference");
CREATE INDEX "greenflow_bookings_local_number_idx" ON "greenflow_bookings"("local_number");
