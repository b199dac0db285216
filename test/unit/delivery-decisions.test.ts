import { describe, expect, it } from "vitest";
import { attemptRecord, decideAttempt, disableReason, type AttemptAnswer } from "../../src/delivery/decisions.js";
import type { AttemptRecord } from "../../src/db/delivery-attempts.js";
import { runChanges } from "../../src/db/failure-runs.js";
import { storableText } from "../../src/lib/text.js";

const outcome = (statusCode: number | null, extra: Partial<AttemptAnswer> = {}): AttemptAnswer => ({
  statusCode,
  error: statusCode && statusCode < 300 ? null : `HTTP ${statusCode}`,
  excerpt: null,
  retryAfterMs: null,
  durationMs: 5,
  refused: false,
  ...extra,
});
const schedule = [0, 1_000, 10_000];

const at = (step: number, startedAt = new Date(0)) => ({ scheduleStep: step - 1, scheduleStartedAt: startedAt });
const now = new Date(10_000);

describe("decideAttempt", () => {
  it("2xx is delivered", () => expect(decideAttempt(outcome(204), at(1), schedule, now)).toEqual({ kind: "delivered" }));
  it("a failure before the last step retries after the next step (jitter ±10%)", () => {
    expect(decideAttempt(outcome(500), at(1), schedule, now, () => 0.5)).toEqual({ kind: "retry", delayMs: 1_000 });
    expect(decideAttempt(outcome(500), at(2), schedule, now, () => 0)).toEqual({ kind: "retry", delayMs: 9_000 });
  });
  it("Retry-After on a 503 replaces the step", () =>
    expect(decideAttempt(outcome(503, { retryAfterMs: 7_000 }), at(1), schedule, now)).toEqual({ kind: "retry", delayMs: 7_000 }));
  it("429 throttles for Retry-After (at least a second), using no step of the schedule", () => {
    expect(decideAttempt(outcome(429, { retryAfterMs: 7_000 }), at(1), schedule, now)).toEqual({ kind: "throttled", delayMs: 7_000 });
    expect(decideAttempt(outcome(429), at(1), schedule, now, () => 0.5)).toEqual({ kind: "throttled", delayMs: 1_000 });
    // Even at the schedule's last step a 429 is not a failure...
    expect(decideAttempt(outcome(429, { retryAfterMs: 2_000 }), at(3), schedule, now)).toMatchObject({ kind: "throttled" });
  });
  it("...until it has lasted as long as the whole schedule would (at least a minute)", () => {
    expect(decideAttempt(outcome(429), at(1, new Date(0)), schedule, new Date(60_000))).toMatchObject({ kind: "failed", gone: false });
  });
  it("a broker's confirm is delivered; a broker that is away pauses like a 429, until it has lasted as long as the schedule", () => {
    expect(decideAttempt(outcome(null, { confirmed: true, error: null }), at(1), schedule, now)).toEqual({ kind: "delivered" });
    const away = outcome(null, { unavailable: true, error: "cannot reach the broker: ECONNREFUSED", retryAfterMs: 2_000 });
    expect(decideAttempt(away, at(3), schedule, now)).toEqual({ kind: "throttled", delayMs: 2_000 });
    expect(decideAttempt(away, at(1, new Date(0)), schedule, new Date(60_000))).toMatchObject({
      kind: "failed",
      reason: expect.stringContaining("the broker was unavailable for longer than the retry schedule"),
    });
    // A refused publish (no confirm, a nack, no queue) is a failure on the schedule, like a 5xx.
    expect(decideAttempt(outcome(null, { error: "the message reached no queue" }), at(1), schedule, now, () => 0.5)).toEqual({ kind: "retry", delayMs: 1_000 });
  });
  it("the last step fails for good", () => expect(decideAttempt(outcome(500), at(3), schedule, now)).toMatchObject({ kind: "failed", gone: false }));
  it("410 fails and disables", () => expect(decideAttempt(outcome(410), at(1), schedule, now)).toMatchObject({ kind: "failed", gone: true }));
  it("a refused target is not retried", () => {
    expect(decideAttempt(outcome(null, { refused: true, error: "target refused: x" }), at(1), schedule, now)).toMatchObject({ kind: "failed", gone: false });
  });
  it("the record says what the decision means, and where the schedule stands", () => {
    const t = new Date(1_000_000);
    const delivery = { webhookDeliveryId: "d", subscriptionId: "s", leaseToken: "l", scheduleStep: 1, scheduleStartedAt: new Date(0) };
    expect(attemptRecord(delivery, 2, { sent: t, answered: t }, outcome(500), { kind: "retry", delayMs: 500 })).toMatchObject({
      status: "pending",
      attempt: 2,
      nextAttemptAt: new Date(1_000_500),
      scheduleStep: 2,
      throttled: false,
    });
    expect(attemptRecord(delivery, 2, { sent: t, answered: t }, outcome(429), { kind: "throttled", delayMs: 3_000 })).toMatchObject({
      status: "pending",
      nextAttemptAt: new Date(1_003_000),
      scheduleStep: 1,
      throttled: true,
    });
    expect(attemptRecord(delivery, 1, { sent: t, answered: t }, outcome(200), { kind: "delivered" })).toMatchObject({
      status: "succeeded",
      nextAttemptAt: null,
      leaseToken: "l",
    });
    // A slow answer: the wait counts from the answer (a 429's Retry-After, a retry's delay), the attempt from its start.
    const answered = new Date(1_000_400);
    expect(attemptRecord(delivery, 2, { sent: t, answered }, outcome(429), { kind: "throttled", delayMs: 1_000 })).toMatchObject({
      attemptedAt: t,
      nextAttemptAt: new Date(1_001_400),
    });
    expect(attemptRecord(delivery, 2, { sent: t, answered }, outcome(500), { kind: "retry", delayMs: 500 })).toMatchObject({
      nextAttemptAt: new Date(1_000_900),
    });
  });
});

const rec = (subscriptionId: string, time: number, status: AttemptRecord["status"], throttled = false): AttemptRecord => ({
  webhookDeliveryId: `${subscriptionId}-${time}`,
  subscriptionId,
  leaseToken: null,
  attempt: 1,
  attemptedAt: new Date(time),
  durationMs: 1,
  statusCode: status === "succeeded" ? 200 : throttled ? 429 : 500,
  error: null,
  excerpt: null,
  status,
  nextAttemptAt: throttled ? new Date(time + 5_000) : null,
  scheduleStep: 1,
  throttled,
});

describe("runChanges: a batch of attempts and each subscription's failure run", () => {
  it("failures after the last success count; a success resets", () => {
    const changes = runChanges([rec("a", 3, "pending"), rec("a", 1, "pending"), rec("a", 2, "succeeded"), rec("b", 5, "failed"), rec("c", 1, "succeeded")]);
    expect(changes).toEqual([
      { id: "a", reset: true, failures: 1, firstFailureAt: new Date(3), pauseUntil: null, pauseReason: null },
      { id: "b", reset: false, failures: 1, firstFailureAt: new Date(5), pauseUntil: null, pauseReason: null },
      { id: "c", reset: true, failures: 0, firstFailureAt: null, pauseUntil: null, pauseReason: null },
    ]);
  });
  it("a 429 neither fails nor resets the run; it pauses the lane until the latest time asked", () => {
    const changes = runChanges([rec("a", 1, "pending"), rec("a", 2, "pending", true), rec("a", 4, "pending", true)]);
    expect(changes).toEqual([
      { id: "a", reset: false, failures: 1, firstFailureAt: new Date(1), pauseUntil: new Date(5_004), pauseReason: "answered 429 Too Many Requests" },
    ]);
  });
  it("a broker that is away pauses the lane too, and the reason says so", () => {
    const away = { ...rec("a", 2, "pending", true), statusCode: null, error: "cannot reach the broker: ECONNREFUSED" };
    expect(runChanges([away])).toEqual([
      {
        id: "a",
        reset: false,
        failures: 0,
        firstFailureAt: null,
        pauseUntil: new Date(5_002),
        pauseReason: "broker unavailable: cannot reach the broker: ECONNREFUSED",
      },
    ]);
  });
});

describe("disableReason", () => {
  const settings = { disableAfterMs: 60_000, disableAfterFailures: 3 };
  const now = new Date(100_000);
  it("410 disables at once", () =>
    expect(disableReason({ id: "s", consecutiveFailures: 1, failingSince: now, status: "active" }, true, settings, now)).toBe("endpoint answered 410 Gone"));
  it("N failures in a row", () =>
    expect(disableReason({ id: "s", consecutiveFailures: 3, failingSince: now, status: "active" }, false, settings, now)).toBe(
      "3 consecutive failed attempts",
    ));
  it("failing for too long", () =>
    expect(disableReason({ id: "s", consecutiveFailures: 1, failingSince: new Date(0), status: "active" }, false, settings, now)).toContain("failing since"));
  it("not yet, or not active", () => {
    expect(disableReason({ id: "s", consecutiveFailures: 1, failingSince: now, status: "active" }, false, settings, now)).toBeNull();
    expect(disableReason({ id: "s", consecutiveFailures: 9, failingSince: new Date(0), status: "disabled" }, true, settings, now)).toBeNull();
  });
});

describe("storableText", () => {
  it("drops NUL and repairs lone surrogates", () => {
    expect(storableText("a\u0000b")).toBe("ab");
    expect(storableText("x\ud800y")).toBe("x\ufffdy");
    expect(storableText("fine ✓")).toBe("fine ✓");
  });
});
