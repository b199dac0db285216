import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "../../src/lib/retry-after.js";
import { retryDelayMs } from "../../src/delivery/retry-policy.js";

const schedule = [0, 5_000, 300_000, 1_800_000];

describe("retry policy", () => {
  it("follows the schedule with ±10% jitter", () => {
    expect(retryDelayMs(schedule, 1, null, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(schedule, 1, null, () => 0)).toBe(4_500);
    expect(retryDelayMs(schedule, 1, null, () => 1)).toBe(5_500);
    expect(retryDelayMs(schedule, 2, null, () => 0.5)).toBe(300_000);
    expect(retryDelayMs(schedule, 9, null, () => 0.5)).toBe(1_800_000);
  });

  it("lets Retry-After replace the step, within bounds", () => {
    expect(retryDelayMs(schedule, 1, 120_000)).toBe(120_000);
    expect(retryDelayMs(schedule, 1, 0)).toBe(1_000);
    expect(retryDelayMs(schedule, 1, 7 * 24 * 3_600_000)).toBe(3_600_000);
  });

  it("parses both Retry-After forms", () => {
    expect(parseRetryAfter("30")).toBe(30_000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 1)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(60_000);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});
