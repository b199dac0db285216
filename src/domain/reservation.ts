// The Flovi reservation state machine: pure, no I/O. The README's "Reservation rules" table mirrors it.

export const RESERVATION_STATES = ["created", "taken", "driving", "sealed", "final_costs", "cancelled"] as const;
export type ReservationState = (typeof RESERVATION_STATES)[number];

export const CANCELLATION_REASONS = [
  "DOUBLE_BOOKING",
  "NO_DRIVER_WAS_FOUND",
  "DRIVER_CANCELED_OR_NOT_ARRIVED",
  "SCHEDULE_ISSUE",
  "DRIVER_WAS_FOUND_THROUGH_ANOTHER_WAY",
  "UNTRANSPORTABLE_VEHICLE",
  "OTHER_REASON",
] as const;

/** Progress order; `cancelled` stands outside it. */
const RANK: Record<Exclude<ReservationState, "cancelled">, number> = {
  created: 1,
  taken: 2,
  driving: 3,
  sealed: 4,
  final_costs: 5,
};

export function isReservationState(value: string): value is ReservationState {
  return (RESERVATION_STATES as readonly string[]).includes(value);
}

export type TransitionOutcome =
  /** The new state becomes current and one event is emitted. */
  | "applied"
  /** Costs arriving for a cancelled reservation: recorded and emitted, the state stays cancelled. */
  | "costs_after_cancel"
  /** The same state again: history only. */
  | "repeated"
  /** Older than the current state (arrived out of order): history only. */
  | "stale"
  /** Anything but costs after a cancellation, or a cancellation after final costs: history only. */
  | "ignored_after_terminal";

export interface Decision {
  outcome: TransitionOutcome;
  /** The reservation's state after the report. */
  nextState: ReservationState;
  emits: boolean;
}

export function decideTransition(current: ReservationState | null, incoming: ReservationState): Decision {
  if (current === null) return { outcome: "applied", nextState: incoming, emits: true };
  if (incoming === current) return { outcome: "repeated", nextState: current, emits: false };

  if (current === "cancelled") {
    return incoming === "final_costs"
      ? { outcome: "costs_after_cancel", nextState: "cancelled", emits: true }
      : { outcome: "ignored_after_terminal", nextState: "cancelled", emits: false };
  }
  if (incoming === "cancelled") {
    // A reservation whose final costs were settled has completed; a late cancellation cannot undo that.
    return current === "final_costs"
      ? { outcome: "ignored_after_terminal", nextState: current, emits: false }
      : { outcome: "applied", nextState: "cancelled", emits: true };
  }
  return RANK[incoming] > RANK[current] ? { outcome: "applied", nextState: incoming, emits: true } : { outcome: "stale", nextState: current, emits: false };
}
