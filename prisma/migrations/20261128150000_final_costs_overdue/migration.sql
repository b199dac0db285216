-- When `reservation.final_costs_overdue` was emitted for a sealed reservation still without final costs
-- (once per reservation); the overdue sweep looks for sealed reservations where it is NULL.
ALTER TABLE "reservations" ADD COLUMN "final_costs_overdue_at" TIMESTAMPTZ(3);
CREATE INDEX "reservations_overdue_idx" ON "reservations"("last_changed_at") WHERE "state" = 'sealed' AND "final_costs_overdue_at" IS NULL;
