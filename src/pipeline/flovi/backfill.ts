// The backfill: what no webhook told us. On the reconciliation schedule it pages Flovi's list endpoint
// (GET /customers/v2/reservations, newest first, 100 per page) and, for every reservation on a page:
//   - one the hub never heard of (its `created` webhook was lost) becomes a reservation, with one event of
//     the state the API shows (`details.source: "reconciliation"`);
//   - one whose state moved without a webhook (a lost `taken`, `sealed`, `cancelled`) gets that transition;
//   - one already up to date is only marked as looked up, so the per-reservation look-ups skip it.
// Each state is emitted once however many passes see it: the plan decides under the reservation's lock, and
// the event's dedupe key is the one the per-reservation look-up uses. Like the look-ups, it leaves alone what
// a webhook may still be bringing: a known reservation that changed within `silentForMs`, and an unknown one
// created within it (its `created` webhook may be on its way), and any with deliveries waiting in the inbox.
//
// A pass reads at most `maxPagesPerRun` pages per run and resumes from the saved cursor on the next run; it
// ends at the last page or at the first page whose reservations were all created before the look-back.
// 429 pauses all Flovi look-ups until its Retry-After (60 s without one), 401 stops the run (the key is
// refused), other failures end the run and the pass resumes from the same page next time.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { loadBackfillPosition, saveBackfillPosition } from "../../db/flovi-backfill.js";
import { keysWithWaitingDeliveries } from "../../db/inbox.js";
import { providerPausedUntil } from "../../db/provider-state.js";
import { loadReservationSnapshots, lockReservations, writeReportPlan } from "../../db/reservation-writes.js";
import { markManyLookedUpIn } from "../../db/reservations.js";
import { decideTransition, isReservationState } from "../../domain/reservation.js";
import { withTransaction } from "../../db/sql.js";
import { MAX_PAGE, type FloviClient, type FloviReservation, type ReservationPage } from "../../providers/flovi/client.js";
import { ProviderError } from "../../providers/provider-error.js";
import type { Committed } from "./inbox.js";
import { planReports, type Report } from "./plan.js";
import { API_STATUS, apiReport, FLOVI_API, pauseFloviApi } from "./reconcile.js";

export interface BackfillResult {
  pages: number;
  seen: number;
  /** Reservations the hub did not know, now created from the API. */
  discovered: number;
  /** Known reservations whose state moved without a webhook. */
  moved: number;
  passEnded: boolean;
  stoppedBy?: string;
  pausedUntil?: Date;
}

export async function backfillFromList(deps: {
  db: Database;
  client: FloviClient;
  log: Logger;
  onCommitted?: (committed: Committed) => void;
  /** Reservations created longer ago than this end a pass. */
  lookbackMs: number;
  /** Only reservations silent this long (FLOVI_RECONCILE_AFTER_MS) are changed; default: any. */
  silentForMs?: number;
  maxPagesPerRun: number;
}): Promise<BackfillResult> {
  const result: BackfillResult = { pages: 0, seen: 0, discovered: 0, moved: 0, passEnded: false };
  if (!deps.client.enabled) return result;
  const paused = await providerPausedUntil(deps.db, FLOVI_API);
  if (paused) return { ...result, stoppedBy: "RATE_LIMITED", pausedUntil: paused };

  const position = await loadBackfillPosition(deps.db);
  let start = position.resumeFrom;
  let passStarted = start === null;
  const cutoff = Date.now() - deps.lookbackMs;

  while (result.pages < deps.maxPagesPerRun) {
    let page: ReservationPage;
    try {
      page = await deps.client.listReservations({ start, limit: MAX_PAGE });
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      const fields = { start, ...error.logFields };
      if (error.kind === "rate_limited") {
        const until = await pauseFloviApi(deps.db, error);
        deps.log.warn({ ...fields, pausedUntil: until }, "flovi backfill rate limited; resuming after Retry-After");
        return { ...result, stoppedBy: error.code, pausedUntil: until };
      }
      if (error.kind === "auth") deps.log.error(fields, "flovi refused the API key; backfill stopped (check FLOVI_API_KEY)");
      else deps.log.warn({ ...fields, err: error.message }, "flovi reservation list failed; the pass resumes from this page next run");
      return { ...result, stoppedBy: error.code };
    }
    result.pages += 1;
    result.seen += page.data.length;
    const applied = await applyPage(deps, page.data, Date.now() - (deps.silentForMs ?? 0));
    result.discovered += applied.discovered;
    result.moved += applied.moved;

    const allOld = page.data.length > 0 && page.data.every((r) => r.createdAt !== undefined && Date.parse(r.createdAt) < cutoff);
    const ended = page.nextStart === null || page.data.length === 0 || allOld;
    await saveBackfillPosition(deps.db, { resumeFrom: ended ? null : page.nextStart, passStarted, passEnded: ended, pages: 1 });
    passStarted = false;
    if (ended) {
      result.passEnded = true;
      break;
    }
    start = page.nextStart;
  }
  if (result.discovered + result.moved > 0) deps.log.info(result, "flovi backfill found what no webhook told");
  return result;
}

/** One page in one transaction: every reservation on it locked, planned against its current state, written. */
async function applyPage(
  deps: { db: Database; onCommitted?: (committed: Committed) => void },
  reservations: FloviReservation[],
  quietSince: number,
): Promise<{ discovered: number; moved: number }> {
  const usable = reservations.filter((r) => API_STATUS[r.status.toLowerCase()] !== undefined);
  if (usable.length === 0) return { discovered: 0, moved: 0 };
  const ids = [...new Set(usable.map((r) => r.reservationId))];
  const outcome = await withTransaction(deps.db, async (sql) => {
    await lockReservations(sql, ids);
    const current = await loadReservationSnapshots(sql, ids);
    const known = new Set(current.map((r) => r.id));
    const now = new Date();
    const byId = new Map(current.map((r) => [r.id, r]));
    // Webhooks stored but not applied yet come first: the drain applies them in receipt order.
    const waiting = await keysWithWaitingDeliveries(sql, "flovi", ids);
    const createdAtOf = new Map(
      usable.filter((r) => r.createdAt && Number.isFinite(Date.parse(r.createdAt))).map((r) => [r.reservationId, Date.parse(r.createdAt!)]),
    );
    // Only what moves a reservation is planned: a page seen again must not add a transition row per pass.
    const reports: Report[] = usable
      .map((r) => apiReport(r, API_STATUS[r.status.toLowerCase()]!, now))
      .filter((report) => {
        if (waiting.has(report.change.reservationId)) return false;
        const known = byId.get(report.change.reservationId);
        if (!known) {
          const createdAt = createdAtOf.get(report.change.reservationId);
          return createdAt === undefined || createdAt < quietSince;
        }
        if (known.lastChangedAt.getTime() >= quietSince) return false;
        return !isReservationState(known.state) || decideTransition(known.state, report.change.state).emits;
      });
    const plan = planReports(reports, current);
    const { deliveries, deferred } = reports.length > 0 ? await writeReportPlan(sql, plan) : { deliveries: [], deferred: 0 };
    await markManyLookedUpIn(sql, [...known]);
    const emitted = new Set(plan.events.map((e) => (e.envelope.data as { entityId: string }).entityId));
    return {
      committed: { events: plan.events.map((e) => e.envelope), deliveries, deferred },
      discovered: [...emitted].filter((id) => !known.has(id)).length,
      moved: [...emitted].filter((id) => known.has(id)).length,
    };
  });
  if (outcome.committed.events.length > 0) deps.onCommitted?.(outcome.committed);
  return { discovered: outcome.discovered, moved: outcome.moved };
}
