import { describe, expect, it } from "vitest";
import { parseFloviBody } from "../../src/providers/flovi/payload.js";
import { rentalTimeToIso, isKnownRentalStatus } from "../../src/providers/greenflow/status.js";
import { foldParcels, isFinal, parseHappenedAt } from "../../src/providers/mfb/tracking.js";
import { nextPollDelayMs } from "../../src/pipeline/polling/schedule.js";
import { sweepEvery } from "../../src/workers/schedulers.js";

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("Flovi payload", () => {
  it("a known state word under event/type is the state, not an unsupported event", () => {
    const verdict = parseFloviBody(body({ event: "final_costs", reservationId: "r1", price: 99 }));
    expect(verdict).toMatchObject({ kind: "status_change", change: { state: "final_costs", costs: { price: 99 } } });
    expect(parseFloviBody(body({ type: "sealed", reservationId: "r1" }))).toMatchObject({ kind: "status_change", change: { state: "sealed" } });
    expect(parseFloviBody(body({ event: "booking_created", reservationId: "r1", state: "created" }))).toEqual({ kind: "ignored", reason: "unsupported_event" });
  });
  it("reads vehicle as well as vehicles", () => {
    expect(parseFloviBody(body({ reservationId: "r1", state: "created", vehicle: { regNo: "ABC-123" } }))).toMatchObject({
      change: { vehicles: [{ regNo: "ABC-123" }] },
    });
  });
});

describe("MFB tracking", () => {
  it("reads times with an offset as given and without one as UTC", () => {
    expect(parseHappenedAt("2013-12-10T11:26:23+01:00")?.toISOString()).toBe("2013-12-10T10:26:23.000Z");
    expect(parseHappenedAt("2013-12-10T11:26:23")?.toISOString()).toBe("2013-12-10T11:26:23.000Z");
    expect(parseHappenedAt("2013-12-10 11:26:23")?.toISOString()).toBe("2013-12-10T11:26:23.000Z");
    expect(parseHappenedAt("yesterday")).toBeNull();
  });
  it("with the order's parcel count, a parcel missing from tracking keeps the order from being delivered", () => {
    expect(isFinal(["delivered"], 2)).toBe(false);
    expect(isFinal(["delivered", "delivered"], 2)).toBe(true);
    expect(isFinal(["delivered"], null)).toBe(true);
    expect(foldParcels(["delivered"], 2)).toBe("created");
    expect(foldParcels(["in_transit", "delivered"], 2)).toBe("in_transit");
  });
});

describe("GreenFlow", () => {
  it("reads pickup_date as wall time in the configured zone", () => {
    expect(rentalTimeToIso("2026-05-15 10:00:00", "UTC")).toBe("2026-05-15T10:00:00.000Z");
    expect(rentalTimeToIso("2026-05-15 10:00:00", "Europe/Lisbon")).toBe("2026-05-15T09:00:00.000Z");
    expect(rentalTimeToIso("2026-01-15T10:00:00", "America/Sao_Paulo")).toBe("2026-01-15T13:00:00.000Z");
    expect(rentalTimeToIso("soon", "UTC")).toBeNull();
    expect(rentalTimeToIso(null, "UTC")).toBeNull();
  });
  it("knows the documented words", () => {
    expect(isKnownRentalStatus("reserved")).toBe(true);
    expect(isKnownRentalStatus("cancelled")).toBe(true);
    expect(isKnownRentalStatus("on_hold_by_desk")).toBe(false);
  });
});

describe("poll scheduling", () => {
  const mid = () => 0.5; // no jitter
  it("after two quiet polls, each further quiet poll doubles the wait, up to the ceiling", () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((quiet) => nextPollDelayMs(1_000, { quiet, ceilingMs: 5_000 }, mid))).toEqual([
      1_000, 1_000, 1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
  });
  it("a poll interval shorter than the sweep interval sets the sweep", () => {
    expect(sweepEvery(30_000, 1_000)).toBe(1_000);
    expect(sweepEvery(30_000, 15 * 60_000)).toBe(30_000);
    expect(sweepEvery(30_000, 10)).toBe(250);
  });
});
