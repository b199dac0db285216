// What a GreenFlow poll reads and writes: a booking's lock and the poll's outcome.
import type { Sql } from "./sql.js";

export interface LockedBooking {
  status: string | null;
  gds_status: string | null;
  sequence: number;
  active: boolean;
  quiet_polls: number;
}

export async function lockGreenflowBooking(sql: Sql, bookingCode: string): Promise<LockedBooking | null> {
  const [row] = await sql.query<LockedBooking>(
    "SELECT status, gds_status, sequence, active, quiet_polls FROM greenflow_bookings WHERE booking_code = $1 FOR UPDATE",
    [bookingCode],
  );
  return row ?? null;
}

export interface GreenflowPollResult {
  status: string;
  gdsStatus: string | null;
  uuid: string | null;
  localNumber: string | null;
  pickupDate: string | null;
  dropoffDate: string | null;
  sequence: number;
  polledAt: Date;
  unknownStatus: boolean;
  quietPolls: number;
  /** Null with a stop reason: the booking reached a final status. */
  nextPollAt: Date | null;
  stoppedReason: string | null;
}

export async function saveGreenflowPoll(sql: Sql, bookingCode: string, r: GreenflowPollResult): Promise<void> {
  await sql.query(
    `UPDATE greenflow_bookings SET status = $2, gds_status = $3, uuid = $4, local_number = $5, pickup_date = $6, dropoff_date = $7, sequence = $8,
            last_polled_at = $9, consecutive_failures = 0, last_error = NULL, unknown_status = $10, quiet_polls = $11,
            next_poll_at = $12, active = $13, stopped_reason = $14, stopped_at = $15, updated_at = now()
      WHERE booking_code = $1`,
    [
      bookingCode,
      r.status,
      r.gdsStatus,
      r.uuid,
      r.localNumber,
      r.pickupDate,
      r.dropoffDate,
      r.sequence,
      r.polledAt,
      r.unknownStatus,
      r.quietPolls,
      r.nextPollAt,
      r.stoppedReason === null,
      r.stoppedReason,
      r.stoppedReason ? r.polledAt : null,
    ],
  );
}
