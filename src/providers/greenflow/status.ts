// GreenFlow booking statuses. The documentation shows RESERVED (on creation, in `status` and `gds.status`)
// and DELETE /bookings/{code} cancelling upstream; other words are lower-cased into `rental.<status>`.

export function normalizeRentalStatus(status: string): string {
  return status.trim().toLowerCase().replace(/[\s-]+/g, "_");
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
