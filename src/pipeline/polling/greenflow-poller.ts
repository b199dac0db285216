// One poll of one GreenFlow booking: a status change becomes `rental.<status>`; a final status stops polling.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { writeEvents } from "../../db/outbox.js";
import { providerPausedUntil } from "../../db/provider-state.js";
import { withTransaction } from "../../db/sql.js";
import { adoptBookingCode, findGreenflowBooking, updatePollState } from "../../db/tracked-items.js";
import { type LockedBooking, lockGreenflowBooking, saveGreenflowPoll } from "../../db/greenflow-polls.js";
import type { GreenflowClient, GreenflowBookingData } from "../../providers/greenflow/client.js";
import { type PollFailureStore, type PollOutcome, type PollSettings, pollFailureStore, recordPollFailure } from "./failures.js";
import { type BookingPollPlan, planBookingPoll } from "./greenflow-poll-plan.js";
import { ProviderError } from "../../providers/provider-error.js";

export const GREENFLOW = "greenflow" as const;

/**
 * What one GreenFlow poll needs of the database, and nothing more: a unit test gives it a fake, the worker
 * `greenflowPollStore(db)`.
 */
export interface GreenflowPollStore {
  booking(code: string): Promise<{
    bookingCode: string;
    active: boolean;
    lastname: string;
    consecutiveFailures: number;
    status: string | null;
    timeZone: string | null;
  } | null>;
  /** Until when GreenFlow polling is paused (a refused API key), or null. */
  pausedUntil(): Promise<Date | null>;
  /** The booking's next poll, not before `at` (while GreenFlow is paused). */
  pollNotBefore(key: string, at: Date): Promise<void>;
  /**
   * In one transaction: a booking registered by its local number takes GreenFlow's booking_code (or folds
   * into the row that has it: `merged`); then, under the row's lock, writes what `plan` decides from it.
   */
  apply(key: string, bookingCode: string, plan: (row: LockedBooking) => BookingPollPlan): Promise<PollOutcome>;
  failures: PollFailureStore;
}

export function greenflowPollStore(db: Database): GreenflowPollStore {
  return {
    booking: (code) => findGreenflowBooking(db, code),
    pausedUntil: () => providerPausedUntil(db, GREENFLOW),
    pollNotBefore: (key, at) => updatePollState(db, GREENFLOW, key, { nextPollAt: at }),
    apply: (key, bookingCode, plan) =>
      withTransaction(db, async (sql): Promise<PollOutcome> => {
        if (bookingCode !== key && (await adoptBookingCode(sql, key, bookingCode)) === "merged") return { kind: "skipped", reason: "merged" };
        const row = await lockGreenflowBooking(sql, bookingCode);
        if (!row?.active) return { kind: "skipped", reason: "inactive" };
        const planned = plan(row);
        if (planned.event) await writeEvents(sql, [planned.event]);
        await saveGreenflowPoll(sql, bookingCode, planned.poll);
        return planned.outcome;
      }),
    failures: pollFailureStore(db),
  };
}

export async function pollGreenflowBooking(
  deps: { store: GreenflowPollStore; client: GreenflowClient; log: Logger; settings: PollSettings; timeZone: string },
  /** The booking's code as queued: its booking_code, or the local number it was registered by. */
  code: string,
): Promise<PollOutcome> {
  const { store, log, settings } = deps;
  const booking = await store.booking(code);
  if (!booking?.active) return { kind: "skipped", reason: booking ? "inactive" : "unknown" };
  const key = booking.bookingCode;
  const pausedUntil = await store.pausedUntil();
  if (pausedUntil) {
    await store.pollNotBefore(key, pausedUntil);
    return { kind: "paused", until: pausedUntil };
  }

  let data: GreenflowBookingData;
  try {
    data = await deps.client.getBooking(key, booking.lastname);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return recordPollFailure(
      { store: store.failures, log, settings },
      {
        provider: GREENFLOW,
        key,
        failures: booking.consecutiveFailures,
        // A 404 for a booking GreenFlow showed us before: it is gone (cancelled and removed, or changed).
        notFoundReason: booking.status !== null ? "gone" : "not_found",
        authMessage: "GREENFLOW REFUSED OUR API KEY: all GreenFlow polling paused; check GREENFLOW_API_KEY",
      },
      error,
    );
  }
  const timeZone = booking.timeZone ?? deps.timeZone;
  const bookingCode = data.booking_code;
  const outcome = await store.apply(key, bookingCode, (row) => planBookingPoll({ row, data, timeZone, settings, now: new Date() }));
  if (outcome.kind === "skipped" && outcome.reason === "merged")
    log.info({ bookingCode, registeredAs: key }, "greenflow booking registered by both codes: tracked once, under its booking code");
  if (outcome.kind === "polled" && outcome.newEvents > 0)
    log.info({ bookingCode, status: outcome.status, gdsStatus: data.gds?.status ?? null }, "greenflow booking status changed");
  if (outcome.kind === "polled" && outcome.undocumented)
    log.warn({ bookingCode, status: outcome.status }, "greenflow sent a status its documentation does not define; kept and polled with backoff");
  return outcome;
}
