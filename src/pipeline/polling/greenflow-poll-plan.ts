// Pure: what one GreenFlow poll means, given the booking's row as locked and GreenFlow's answer: the event to
// emit (a change of the status, or of the GDS status alone), the row's new state, and when to poll next
// (sooner while the rental moves, later while it is quiet or its status is undocumented, never once final).
// ./greenflow-poller.ts does the I/O around it.
import type { GreenflowPollResult, LockedBooking } from "../../db/greenflow-polls.js";
import type { NewEvent } from "../../domain/events.js";
import type { GreenflowBookingData } from "../../providers/greenflow/client.js";
import { isFinalRentalStatus, isKnownRentalStatus, isMovingRentalStatus, normalizeRentalStatus, rentalTimeToIso } from "../../providers/greenflow/status.js";
import type { PollOutcome, PollSettings } from "./failures.js";
import { nextPollDelayMs } from "./schedule.js";

export interface BookingPollPlan {
  event: NewEvent | null;
  poll: GreenflowPollResult;
  outcome: Extract<PollOutcome, { kind: "polled" }>;
}

export function planBookingPoll(input: {
  row: LockedBooking;
  data: GreenflowBookingData;
  /** The booking's own time zone, else GREENFLOW_TIME_ZONE: how its local times are read. */
  timeZone: string;
  settings: PollSettings;
  now: Date;
}): BookingPollPlan {
  const { row, data, timeZone, settings, now } = input;
  const status = normalizeRentalStatus(data.status);
  const gdsStatus = data.gds?.status ?? null;
  const final = isFinalRentalStatus(status);
  const unknown = !isKnownRentalStatus(status);
  const bookingCode = data.booking_code;
  // A change of the booking's status, or of its GDS status alone (the status staying the same), is news.
  const gdsChanged = row.status !== null && gdsStatus !== row.gds_status;
  const changed = row.status !== status || gdsChanged;
  const sequence = changed ? row.sequence + 1 : row.sequence;
  const event: NewEvent | null = changed
    ? {
        entity: "rental",
        entityId: bookingCode,
        externalId: data.local_number ?? null,
        type: status,
        status,
        previousStatus: row.status,
        providerStatus: data.status,
        sequence,
        time: now,
        timeSource: "hub",
        details: {
          bookingCode,
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
      }
    : null;
  // Unchanged, or a status nobody documented: wait longer each time, up to the ceiling.
  const quiet = changed && !unknown ? 0 : row.quiet_polls + 1;
  return {
    event,
    poll: {
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
    },
    outcome: { kind: "polled", newEvents: changed ? 1 : 0, status, final, undocumented: unknown },
  };
}
