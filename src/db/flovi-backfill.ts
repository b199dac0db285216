// The Flovi backfill's memory (one row): where an unfinished pass resumes, when the last pass ended.
import type { Database } from "./client.js";
import { poolOf } from "./clients.js";

export interface BackfillPosition {
  resumeFrom: string | null;
  passStartedAt: Date | null;
  lastPassCompletedAt: Date | null;
  pagesRead: number;
}

export async function loadBackfillPosition(db: Database): Promise<BackfillPosition> {
  const { rows } = await poolOf(db).query<{
    resume_from: string | null;
    pass_started_at: Date | null;
    last_pass_completed_at: Date | null;
    pages_read: string;
  }>("SELECT resume_from, pass_started_at, last_pass_completed_at, pages_read FROM flovi_backfill WHERE id = 1");
  const row = rows[0];
  return row
    ? { resumeFrom: row.resume_from, passStartedAt: row.pass_started_at, lastPassCompletedAt: row.last_pass_completed_at, pagesRead: Number(row.pages_read) }
    : { resumeFrom: null, passStartedAt: null, lastPassCompletedAt: null, pagesRead: 0 };
}

/** After a page: the cursor to resume from (null when the pass ended), and whether the pass ended. */
export async function saveBackfillPosition(
  db: Database,
  change: { resumeFrom: string | null; passStarted: boolean; passEnded: boolean; pages: number },
): Promise<void> {
  await poolOf(db).query(
    `INSERT INTO flovi_backfill (id, resume_from, pass_started_at, last_pass_completed_at, pages_read, updated_at)
     VALUES (1, $1, CASE WHEN $2 THEN now() END, CASE WHEN $3 THEN now() END, $4, now())
     ON CONFLICT (id) DO UPDATE SET
       resume_from = EXCLUDED.resume_from,
       pass_started_at = CASE WHEN $2 THEN now() ELSE flovi_backfill.pass_started_at END,
       last_pass_completed_at = CASE WHEN $3 THEN now() ELSE flovi_backfill.last_pass_completed_at END,
       pages_read = flovi_backfill.pages_read + $4,
       updated_at = now()`,
    [change.resumeFrom, change.passStarted, change.passEnded, change.pages],
  );
}
