import { TZDate } from "@date-fns/tz";

// GreenFlow booking statuses. The documentation shows RESERVED (on creation, in `status` and `gds.status`)
// and DELETE /bookings/{code} cancelling upstream; other words are lower-cased into `rental.<status>`.

export function normalizeRentalStatus(status: string): string {
  return status
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
}

/**
 * Statuses after which a booking cannot change any more, so polling stops: a cancellation (both
 * spellings), and the end of a rental (returned / completed / closed / finished), or a booking that
 * never started (no_show, expired, rejected).
 */
const FINAL = new Set(["cancelled", "canceled", "returned", "completed", "closed", "finished", "no_show", "expired", "rejected"]);

export function isFinalRentalStatus(normalized: string): boolean {
  return FINAL.has(normalized);
}

/** A booking on the road changes sooner than one waiting for its pickup date. */
export function isMovingRentalStatus(normalized: string): boolean {
  return normalized === "picked_up" || normalized === "in_progress" || normalized === "open";
}

/** The words GreenFlow's documentation defines (RESERVED on creation; DELETE cancels) plus the usual rental lifecycle. */
const KNOWN = new Set(["reserved", "pending", "confirmed", "on_request", "picked_up", "in_progress", "open", ...FINAL]);

/** A status word nobody documented: kept and forwarded, surfaced to operators, and polled with backoff. */
export function isKnownRentalStatus(normalized: string): boolean {
  return KNOWN.has(normalized);
}

/**
 * GreenFlow sends pickup_date / dropoff_date as "2026-05-15 10:00:00" (also "2026-05-15T10:00:00"), with no
 * offset: wall time at the rental office. Read in `timeZone` (GREENFLOW_TIME_ZONE), as an ISO instant; null
 * when it is not such a time.
 */
export function rentalTimeToIso(raw: string | null | undefined, timeZone: string): string | null {
  const match = raw ? /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(raw.trim()) : null;
  if (!match) return null;
  const [y, mo, d, h, mi, sec] = match.slice(1).map((v) => Number(v ?? 0));
  const at = new TZDate(y!, mo! - 1, d!, h!, mi!, sec!, timeZone);
  return Number.isFinite(at.getTime()) ? new Date(at.getTime()).toISOString() : null;
}
