import { describe, expect, it } from "vitest";
import { greenflowRegistration, mfbRegistration } from "../../src/services/tracking.js";

describe("what registering a tracked item does", () => {
  const order = (active: boolean, stoppedReason: string | null, reference: string | null = "PO-1") => ({ active, stoppedReason, reference });
  it("MFB: new orders are created; stopped ones resume unless delivered; a new reference is kept", () => {
    expect(mfbRegistration(null)).toBe("create");
    expect(mfbRegistration(order(false, "stopped_by_operator"))).toBe("resume");
    expect(mfbRegistration(order(false, "not_found"))).toBe("resume");
    expect(mfbRegistration(order(false, "delivered"))).toBe("unchanged");
    expect(mfbRegistration(order(true, null), "PO-2")).toBe("update_reference");
    expect(mfbRegistration(order(true, null), "PO-1")).toBe("unchanged");
  });
  it("GreenFlow: a corrected lastname, an operator's stop or a not-found booking polls again; a finished rental does not", () => {
    const booking = (active: boolean, stoppedReason: string | null) => ({ active, stoppedReason, lastname: "Silva", timeZone: null });
    expect(greenflowRegistration(null, "Silva")).toBe("create");
    expect(greenflowRegistration(booking(true, null), "Sílva")).toBe("resume");
    expect(greenflowRegistration(booking(false, "stopped_by_operator"), "Silva")).toBe("resume");
    expect(greenflowRegistration(booking(false, "not_found"), "Silva")).toBe("resume");
    expect(greenflowRegistration(booking(false, "gone"), "Silva")).toBe("resume");
    expect(greenflowRegistration(booking(false, "returned"), "Silva")).toBe("unchanged");
    expect(greenflowRegistration(booking(true, null), "Silva")).toBe("unchanged");
    expect(greenflowRegistration(booking(true, null), "Silva", "Europe/Lisbon")).toBe("update_time_zone");
  });
});
