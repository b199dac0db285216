-- How far the Flovi backfill has looked (one row): it pages GET /customers/v2/reservations newest first on the
-- reconciliation schedule, a few pages per run, and resumes an unfinished pass from `resume_from` (the next
-- page's cursor). A pass ends at the last page or at reservations older than the look-back.
CREATE TABLE "flovi_backfill" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "resume_from" TEXT,
    "pass_started_at" TIMESTAMPTZ(3),
    "last_pass_completed_at" TIMESTAMPTZ(3),
    "pages_read" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flovi_backfill_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "flovi_backfill_one_row" CHECK ("id" = 1)
);
