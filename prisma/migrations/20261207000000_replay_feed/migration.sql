-- A replay's deliveries are written in parts as they come due (docs/delivery.md, "Replaying a window"), not all
-- when it is asked for: a request of 100,000 events wrote 100,000 rows in one statement before its 202 (about
-- 2 s of Postgres beside everyone's live traffic) and kept them waiting for up to its whole pace. Now the request
-- counts the window's events and notes the log positions they lie between; the worker's replay feeder writes
-- the next part (a few seconds ahead of its pace) from `next_position`, until the window is written
-- (`next_position` null). Replays asked for before this migration were written whole.
ALTER TABLE "replays"
    ADD COLUMN "rate_per_second" DOUBLE PRECISION,
    ADD COLUMN "last_position" BIGINT,
    ADD COLUMN "next_position" BIGINT,
    ADD COLUMN "next_due_at" TIMESTAMPTZ(3),
    ADD COLUMN "written" INTEGER NOT NULL DEFAULT 0;
UPDATE "replays" SET "written" = "events";
-- The feeder's question, every second in every worker: which replays have a part coming due.
CREATE INDEX "replays_feeding_idx" ON "replays"("next_due_at") WHERE "next_position" IS NOT NULL;
