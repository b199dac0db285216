// One poll of one GreenFlow booking: a status change becomes `rental.<status>`; a final status stops polling.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { writeEvents } from "../db/outbox.js";
import { providerPausedUntil } from "../db/provider-state.js";
import { withTransaction } from "../db/sql.js";
import { adoptBookingCode, findGreenflowBooking, updatePollState } from "../db/tracked-items.js";
import { lockGreenflowBooking, saveGreenflowPoll } from "../db/greenflow-polls.js";
import type { GreenflowClient, GreenflowBookingData } from "../providers/greenflow/client.js";
import { isFinalRentalStatus, isKnownRentalStatus, isMovingRentalStatus, normalizeRentalStatus, rentalTimeToIso } from "../providers/greenflow/status.js";
import { type PollOutcome, type PollSettings, pollFailureStore, recordPollFailure } from "./failures.js";
import { ProviderError } from "../providers/provider-error.js";
import { nextPollDelayMs } from "./schedule.js";

export const GREENFLOW = "greenflow" as const;

export async function pollGreenflowBooking(
  deps: { db: Database; client: GreenflowClient; log: Logger; settings: PollSettings; timeZone: string },
  /** The booking's code as queued: its booking_code, or the local number it was registered by. */
  code: string,
): Promise<PollOutcome> {
  const { db, log, settings } = deps;
  const booking = await findGreenflowBooking(db, code);
  if (!booking?.active) return { kind: "skipped", reason: booking ? "inactive" : "unknown" };
  const key = booking.bookingCode;
  const pausedUntil = await providerPausedUntil(db, GREENFLOW);
  if (pausedUntil) {
    await updatePollState(db, GREENFLOW, key, { nextPollAt: pausedUntil });
    return { kind: "paused", until: pausedUntil };
  }

  let data: GreenflowBookingData;
  try {
    data = await deps.client.getBooking(key, booking.lastname);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return recordPollFailure(
      { store: pollFailureStore(deps.db), log: deps.log, settings: deps.settings },
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
  const status = normalizeRentalStatus(data.status);
  const gdsStatus = data.gds?.status ?? null;
  const final = isFinalRentalStatus(status);
  const unknown = !isKnownRentalStatus(status);
  const bookingCode = data.booking_code;
  const outcome = await withTransaction(db, async (sql) => {
    // Registered by its local number: the row takes GreenFlow's booking_code (or folds into the row that has it).
    if (bookingCode !== key && (await adoptBookingCode(sql, key, bookingCode)) === "merged") return { kind: "skipped", reason: "merged" } as const;
    const row = await lockGreenflowBooking(sql, bookingCode);
    if (!row?.active) return { kind: "skipped", reason: "inactive" } as const;
    // A change of the booking's status, or of its GDS status alone (the status staying the same), is news.
    const gdsChanged = row.status !== null && gdsStatus !== row.gds_status;
    const changed = row.status !== status || gdsChanged;
    const sequence = changed ? row.sequence + 1 : row.sequence;
    if (changed) {
      await writeEvents(sql, [
        {
          entity: "rental",
          entityId: bookingCode,
          externalId: data.local_number ?? null,
          type: status,
          status,
          previousStatus: row.status,
          providerStatus: data.status,
          sequence,
          time: new Date(),
          timeSource: "hub",
          details: {
            bookingCode: data.booking_code,
            localNumber: data.local_number ?? null,
            gdsStatus,
            ...(gdsChanged ? { previousGdsStatus: row.gds_status } : {}),
            changed: row.status !== status ? "status" : "gds_status",
            // As GreenFlow sends them (no offset), and as instants read in the booking's zone.
            pickupDate: data.pickup_date ?? null,
            dropoffDate: data.dropoff_date ?? null,
            pickupAt: rentalTimeToIso(data.pickup_date, timeZone),
            dropoffAt: rentalTimeToIso(data.dropoff_date, timeZone),
            timeZone,
            ...(unknown ? { undocumentedStatus: true } : {}),
          },
          dedupeKey: `greenflow:${bookingCode}:${sequence}:${status}:${gdsStatus ?? ""}`,
        },
      ]);
    }
    const now = new Date();
    // Unchanged, or a status nobody documented: wait longer each time, up to the ceiling.
    const quiet = changed && !unknown ? 0 : row.quiet_polls + 1;
    await saveGreenflowPoll(sql, bookingCode, {
      status,
      gdsStatus,
      uuid: data.uuid ?? null,
      localNumber: data.local_number ?? null,
      pickupDate: data.pickup_date ?? null,
      dropoffDate: data.dropoff_date ?? null,
      sequence,
      polledAt: now,
      unknownStatus: unknown,
      quietPolls: quiet,
      nextPollAt: final
        ? null
        : new Date(now.getTime() + nextPollDelayMs(settings.intervalMs, { moving: isMovingRentalStatus(status), quiet, ceilingMs: settings.ceilingMs })),
      stoppedReason: final ? status : null,
    });
    return { kind: "polled", newEvents: changed ? 1 : 0, status, final, undocumented: unknown } as const;
  });
  if (outcome.kind === "skipped" && outcome.reason === "merged")
    log.info({ bookingCode, registeredAs: key }, "greenflow booking registered by both codes: tracked once, under its booking code");
  if (outcome.kind === "polled" && outcome.newEvents > 0) log.info({ bookingCode, status, gdsStatus }, "greenflow booking status changed");
  if (unknown) log.warn({ bookingCode, status }, "greenflow sent a status its documentation does not define; kept and polled with backoff");
  return outcome;
}
