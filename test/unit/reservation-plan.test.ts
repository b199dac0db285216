import { describe, expect, it } from "vitest";
import { planReports, type Report, type ReservationSnapshot } from "../../src/pipeline/flovi/plan.js";
import type { ReservationState } from "../../src/domain/reservation.js";

let n = 0;
function report(reservationId: string, state: ReservationState, extra: Partial<Report["change"]> = {}): Report {
  n += 1;
  return {
    change: {
      reservationId,
      externalId: null,
      state,
      cancellationReason: null,
      occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)),
      costs: null,
      vehicles: null,
      warnings: [],
      ...extra,
    },
    source: "webhook",
    receivedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)),
    inboundDeliveryId: `d-${n}`,
    dedupeKey: `k-${n}`,
    lastPayload: { n },
    requestId: null,
  };
}

describe("planReports folds reports in receipt order", () => {
  it("a whole walk in one batch: five events with sequence 1..5 and one reservation write", () => {
    const plan = planReports(
      ["created", "taken", "driving", "sealed", "final_costs"].map((s) => report("r1", s as ReservationState)),
      [],
    );
    expect(plan.events.map((e) => [e.envelope.type, e.envelope.data.sequence, e.envelope.data.previousStatus])).toEqual([
      ["reservation.created", 1, null],
      ["reservation.taken", 2, "created"],
      ["reservation.driving", 3, "taken"],
      ["reservation.sealed", 4, "driving"],
      ["reservation.final_costs", 5, "sealed"],
    ]);
    expect(plan.reservations).toHaveLength(1);
    expect(plan.reservations[0]).toMatchObject({ id: "r1", state: "final_costs", sequence: 5 });
    expect(plan.transitions.every((t) => t.outcome === "applied")).toBe(true);
    expect(plan.inbound.map((i) => i.reason)).toEqual(["applied", "applied", "applied", "applied", "applied"]);
  });

  it("continues from the stored state, and marks a lower state received later as stale", () => {
    const current: ReservationSnapshot[] = [
      { id: "r2", state: "driving", externalId: "WO-1", sequence: 3, cancellationReason: null, lastChangedAt: new Date(0) },
    ];
    const plan = planReports([report("r2", "taken"), report("r2", "sealed")], current);
    expect(plan.transitions.map((t) => [t.fromState, t.toState, t.outcome])).toEqual([
      ["driving", "taken", "stale"],
      ["driving", "sealed", "applied"],
    ]);
    expect(plan.events.map((e) => e.envelope.data.sequence)).toEqual([4]);
    expect(plan.events[0]!.envelope.data.externalId).toBe("WO-1");
    expect(plan.transitions[0]!.eventId).toBeNull();
    expect(plan.transitions[1]!.eventId).toBe(plan.events[0]!.envelope.id);
  });

  it("costs are the final_costs state's only", () => {
    const plan = planReports([report("r3", "created", { costs: { price: 10 } }), report("r3", "final_costs", { costs: { price: 99, currency: "EUR" } })], []);
    expect(plan.events[0]!.envelope.data.details).not.toHaveProperty("finalCosts");
    // Money in the one shape events use; the reservation row keeps the fields as Flovi sent them.
    expect(plan.events[1]!.envelope.data.details).toMatchObject({ finalCosts: { amount: 99, currency: "EUR", amountMinor: 9900, breakdown: [] } });
    expect(plan.reservations[0]!.finalCosts).toEqual({ price: 99, currency: "EUR" });
  });

  it("final costs: a nested total, a breakdown, a zero-decimal currency; what cannot be money is passed on as sent", () => {
    const nested = planReports(
      [
        report("r7", "final_costs", {
          costs: {
            finalCosts: {
              price: "154.20",
              currency: "eur",
              priceBreakdown: [
                { type: "base", amount: 120, label: "Base" },
                { type: "fuel", amount: 34.2, label: "Fuel" },
              ],
            },
          },
        }),
      ],
      [],
    );
    expect(nested.events[0]!.envelope.data.details.finalCosts).toEqual({
      amount: 154.2,
      currency: "EUR",
      amountMinor: 15420,
      breakdown: [
        { type: "base", label: "Base", amount: 120, currency: "EUR", amountMinor: 12000 },
        { type: "fuel", label: "Fuel", amount: 34.2, currency: "EUR", amountMinor: 3420 },
      ],
    });
    const yen = planReports([report("r8", "final_costs", { costs: { finalCosts: 15420, currency: "JPY" } })], []);
    expect(yen.events[0]!.envelope.data.details.finalCosts).toMatchObject({ amount: 15420, currency: "JPY", amountMinor: 15420 });
    const noCurrency = planReports([report("r9", "final_costs", { costs: { finalCosts: 99 } })], []);
    expect(noCurrency.events[0]!.envelope.data.details).not.toHaveProperty("finalCosts");
    expect(noCurrency.events[0]!.envelope.data.details.finalCostsRaw).toEqual({ finalCosts: 99 });
  });

  it("a repeated state learns the external id without an event", () => {
    const current: ReservationSnapshot[] = [{ id: "r4", state: "taken", externalId: null, sequence: 2, cancellationReason: null, lastChangedAt: new Date(0) }];
    const plan = planReports([report("r4", "taken", { externalId: "WO-9" })], current);
    expect(plan.events).toHaveLength(0);
    expect(plan.reservations).toEqual([expect.objectContaining({ id: "r4", externalId: "WO-9", state: "taken", sequence: 2, lastPayload: null })]);
    expect(plan.transitions[0]!.outcome).toBe("repeated");
  });

  it("keeps reservations apart within one batch", () => {
    const plan = planReports(
      [report("a", "created"), report("b", "created"), report("a", "taken"), report("b", "cancelled", { cancellationReason: "OTHER_REASON" })],
      [],
    );
    expect(plan.reservations.map((r) => [r.id, r.state, r.sequence, r.cancellationReason])).toEqual([
      ["a", "taken", 2, null],
      ["b", "cancelled", 2, "OTHER_REASON"],
    ]);
  });
});
