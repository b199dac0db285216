import { describe, expect, it } from "vitest";
import { decideTransition } from "../../src/domain/reservation.js";

// Mirrors the README's "Reservation rules" table row by row.
describe("reservation state machine", () => {
  it.each([
    [null, "created", "applied", "created", true],
    [null, "sealed", "applied", "sealed", true],
    ["created", "taken", "applied", "taken", true],
    ["created", "driving", "applied", "driving", true],
    ["taken", "driving", "applied", "driving", true],
    ["driving", "sealed", "applied", "sealed", true],
    ["sealed", "final_costs", "applied", "final_costs", true],
    ["taken", "created", "stale", "taken", false],
    ["sealed", "driving", "stale", "sealed", false],
    ["final_costs", "sealed", "stale", "final_costs", false],
    ["driving", "driving", "repeated", "driving", false],
    ["created", "cancelled", "applied", "cancelled", true],
    ["driving", "cancelled", "applied", "cancelled", true],
    ["sealed", "cancelled", "applied", "cancelled", true],
    ["final_costs", "cancelled", "ignored_after_terminal", "final_costs", false],
    ["cancelled", "final_costs", "costs_after_cancel", "cancelled", true],
    ["cancelled", "driving", "ignored_after_terminal", "cancelled", false],
    ["cancelled", "created", "ignored_after_terminal", "cancelled", false],
    ["cancelled", "cancelled", "repeated", "cancelled", false],
  ] as const)("%s + %s → %s (state %s, emits %s)", (current, incoming, outcome, nextState, emits) => {
    expect(decideTransition(current, incoming)).toEqual({ outcome, nextState, emits });
  });
});
