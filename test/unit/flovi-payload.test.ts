import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CANCELLATION_REASONS } from "../../src/domain/reservation.js";
import { parseFloviBody } from "../../src/providers/flovi/payload.js";

const fixture = (name: string) => readFileSync(path.resolve(import.meta.dirname, "../../src/providers/flovi/fixtures", name));

describe("Flovi payload parsing (fixtures)", () => {
  it("reads the canonical shape", () => {
    expect(parseFloviBody(fixture("created.json"))).toEqual({
      kind: "status_change",
      body: JSON.parse(fixture("created.json").toString("utf8")),
      change: {
        reservationId: "1234567890123",
        externalId: "WO-2026-0042",
        state: "created",
        cancellationReason: null,
        occurredAt: new Date("2026-06-01T08:00:00.000Z"),
        costs: null,
        vehicles: null,
      },
    });
  });

  it("reads snake_case keys, numeric ids and the status alias", () => {
    const verdict = parseFloviBody(fixture("taken-snake-case.json"));
    expect(verdict).toMatchObject({ kind: "status_change", change: { reservationId: "1234567890123", externalId: "WO-2026-0042", state: "taken" } });
    if (verdict.kind === "status_change") expect(verdict.change.occurredAt?.toISOString()).toBe("2026-06-01T07:30:00.000Z");
  });

  it("reads a reservation nested under data", () => {
    expect(parseFloviBody(fixture("driving-nested.json"))).toMatchObject({ kind: "status_change", change: { state: "driving", reservationId: "1234567890123" } });
  });

  it("keeps costs and vehicles of final_costs", () => {
    const verdict = parseFloviBody(fixture("final-costs.json"));
    expect(verdict.kind).toBe("status_change");
    if (verdict.kind !== "status_change") return;
    expect(verdict.change.costs).toEqual({
      price: 164.4,
      currency: "EUR",
      priceBreakdown: [
        { type: "base", amount: 149.9, label: "Transport" },
        { type: "fuel", amount: 14.5, label: "Fuel" },
      ],
    });
    expect(verdict.change.vehicles).toEqual([{ regNo: "ABC-123", make: "Toyota", model: "Corolla", year: 2022, fuelType: "gasoline" }]);
  });

  it("keeps the cancellation reason", () => {
    expect(parseFloviBody(fixture("cancelled.json"))).toMatchObject({ kind: "status_change", change: { state: "cancelled", cancellationReason: "NO_DRIVER_WAS_FOUND" } });
  });

  it.each(CANCELLATION_REASONS)("keeps the documented cancellation reason %s", (reason) => {
    expect(parseFloviBody(Buffer.from(JSON.stringify({ state: "cancelled", reservationId: 1, cancellation_reason: reason })))).toMatchObject({
      kind: "status_change",
      change: { state: "cancelled", cancellationReason: reason },
    });
  });

  it("ignores a test ping and other events", () => {
    expect(parseFloviBody(fixture("ping.json"))).toEqual({ kind: "ignored", reason: "not_a_status_change" });
    expect(parseFloviBody(Buffer.from('{"event":"invoice_created","state":"created","reservationId":"1"}'))).toEqual({ kind: "ignored", reason: "unsupported_event" });
    expect(parseFloviBody(Buffer.from("[1,2]"))).toEqual({ kind: "ignored", reason: "not_a_status_change" });
  });

  it("rejects what cannot be a usable status change", () => {
    expect(parseFloviBody(Buffer.from("not json"))).toEqual({ kind: "rejected", reason: "malformed_json" });
    expect(parseFloviBody(Buffer.from('{"state":"teleported","reservationId":"1"}'))).toMatchObject({ kind: "rejected", reason: "unknown_state" });
    expect(parseFloviBody(Buffer.from('{"state":"created"}'))).toEqual({ kind: "rejected", reason: "missing_reservation_id" });
    expect(parseFloviBody(Buffer.from('{"state":"created","reservationId":{"a":1}}'))).toMatchObject({ kind: "rejected", reason: "invalid_payload" });
  });

  it("normalizes the state's case and accepts epoch timestamps", () => {
    const verdict = parseFloviBody(Buffer.from('{"state":"FINAL_COSTS","reservationId":7,"timestamp":1780000000}'));
    expect(verdict).toMatchObject({ kind: "status_change", change: { state: "final_costs", reservationId: "7" } });
    if (verdict.kind === "status_change") expect(verdict.change.occurredAt?.getTime()).toBe(1780000000 * 1000);
  });
});
