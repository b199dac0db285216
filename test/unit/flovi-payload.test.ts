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
        warnings: [],
      },
    });
  });

  it("reads snake_case keys, numeric ids and the status alias", () => {
    const verdict = parseFloviBody(fixture("taken-snake-case.json"));
    expect(verdict).toMatchObject({ kind: "status_change", change: { reservationId: "1234567890123", externalId: "WO-2026-0042", state: "taken" } });
    if (verdict.kind === "status_change") expect(verdict.change.occurredAt?.toISOString()).toBe("2026-06-01T07:30:00.000Z");
  });

  it("reads a reservation nested under data", () => {
    expect(parseFloviBody(fixture("driving-nested.json"))).toMatchObject({
      kind: "status_change",
      change: { state: "driving", reservationId: "1234567890123" },
    });
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
    expect(parseFloviBody(fixture("cancelled.json"))).toMatchObject({
      kind: "status_change",
      change: { state: "cancelled", cancellationReason: "NO_DRIVER_WAS_FOUND" },
    });
  });

  it.each(CANCELLATION_REASONS)("keeps the documented cancellation reason %s", (reason) => {
    expect(parseFloviBody(Buffer.from(JSON.stringify({ state: "cancelled", reservationId: 1, cancellation_reason: reason })))).toMatchObject({
      kind: "status_change",
      change: { state: "cancelled", cancellationReason: reason },
    });
  });

  it("ignores a test ping and other events", () => {
    expect(parseFloviBody(fixture("ping.json"))).toEqual({ kind: "ignored", reason: "not_a_status_change" });
    expect(parseFloviBody(Buffer.from('{"event":"invoice_created","state":"created","reservationId":"1"}'))).toEqual({
      kind: "ignored",
      reason: "unsupported_event",
    });
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

  describe("side fields never cost the state", () => {
    const parse = (body: Record<string, unknown>) => {
      const verdict = parseFloviBody(Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: "4711", ...body })));
      if (verdict.kind !== "status_change") throw new Error(`expected a status change, got ${JSON.stringify(verdict)}`);
      return verdict.change;
    };

    it.each([
      ["a time without offset", { state: "taken", occurredAt: "2026-11-20 10:00:00" }, { field: "occurredAt", problem: "no_offset", fallback: "receipt_time" }],
      [
        "an ISO time without offset",
        { state: "taken", occurredAt: "2026-11-20T10:00:00" },
        { field: "occurredAt", problem: "no_offset", fallback: "receipt_time" },
      ],
      ["an unparsable time", { state: "taken", occurredAt: "yesterday" }, { field: "occurredAt", problem: "unparsable", fallback: "receipt_time" }],
      ["a time past 9999", { state: "taken", occurredAt: 1e20 }, { field: "occurredAt", problem: "out_of_range", fallback: "receipt_time" }],
      ["a time that is an object", { state: "taken", occurredAt: { at: 1 } }, { field: "occurredAt", problem: "wrong_type", fallback: "receipt_time" }],
      ["an empty externalId", { state: "created", externalId: "" }, { field: "externalId", problem: "empty", fallback: "null" }],
      ["an oversized externalId", { state: "created", externalId: "W".repeat(201) }, { field: "externalId", problem: "too_long", fallback: "null" }],
      ["an externalId that is a list", { state: "created", externalId: ["a"] }, { field: "externalId", problem: "wrong_type", fallback: "null" }],
      ["an empty cancellation reason", { state: "cancelled", cancellation_reason: "" }, { field: "cancellationReason", problem: "empty", fallback: "null" }],
      [
        "an unknown cancellation reason",
        { state: "cancelled", cancellation_reason: "WEATHER" },
        { field: "cancellationReason", problem: "unknown_reason", fallback: "kept" },
      ],
      ["vehicles that are a string", { state: "sealed", vehicles: "VW Golf" }, { field: "vehicles", problem: "wrong_type", fallback: "null" }],
      [
        "fields nobody documented",
        { state: "driving", driverMood: "fine", eta: 5 },
        { field: "fields", problem: "unexpected_fields", fallback: "ignored", raw: "driverMood,eta" },
      ],
    ])("%s: the state is kept, the field falls back and says so", (_name, body, warning) => {
      const change = parse(body);
      expect(change.state).toBe(body.state);
      expect(change.reservationId).toBe("4711");
      expect(change.warnings).toEqual([expect.objectContaining(warning)]);
    });

    it("uses each fallback: receipt time (null here), null, and an unknown reason kept as sent", () => {
      expect(parse({ state: "taken", occurredAt: "2026-11-20 10:00:00" }).occurredAt).toBeNull();
      expect(parse({ state: "created", externalId: "" }).externalId).toBeNull();
      expect(parse({ state: "cancelled", cancellation_reason: "" }).cancellationReason).toBeNull();
      expect(parse({ state: "cancelled", cancellation_reason: "WEATHER" }).cancellationReason).toBe("WEATHER");
      // The raw value is kept with the warning (a prefix), for the console and the API.
      expect(parse({ state: "taken", occurredAt: "2026-11-20 10:00:00" }).warnings[0]!.raw).toBe("2026-11-20 10:00:00");
    });

    it("a documented reason and a well-formed delivery carry no warning", () => {
      expect(parse({ state: "cancelled", cancellation_reason: "DOUBLE_BOOKING", occurredAt: "2026-11-20T10:00:00Z", externalId: "WO-1" }).warnings).toEqual([]);
    });

    it("a numeric reservation id beyond 2^53 is refused with a clear reason, never rounded; as a string it is kept exactly", () => {
      const big = parseFloviBody(Buffer.from('{"state":"created","reservationId":9007199254740993}'));
      expect(big).toMatchObject({ kind: "rejected", reason: "invalid_payload" });
      if (big.kind === "rejected") expect(big.detail).toMatch(/beyond 2\^53.*as a string/);
      expect(parse({ reservationId: "9007199254740993", state: "created" }).reservationId).toBe("9007199254740993");
      expect(parse({ reservationId: 9007199254740991, state: "created" }).reservationId).toBe("9007199254740991");
    });
  });
});
