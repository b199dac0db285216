import { describe, expect, it } from "vitest";
import { attemptRecord, decideAttempt, disableReason, type HttpOutcome } from "../../src/delivery/decisions.js";
import { runChanges, type AttemptRecord } from "../../src/db/delivery-attempts.js";
import { storableText } from "../../src/lib/text.js";

const outcome = (statusCode: number | null, extra: Partial<HttpOutcome> = {}): HttpOutcome => ({
  statusCode,
  error: statusCode && statusCode < 300 ? null : `HTTP ${statusCode}`,
  excerpt: null,
  retryAfterMs: null,
  durationMs: 5,
  refused: false,
  ...extra,
});
const schedule = [0, 1_000, 10_000];

describe("decideAttempt", () => {
  it("2xx is delivered", () => expect(decideAttempt(outcome(204), 1, schedule)).toEqual({ kind: "delivered" }));
  it("a failure before the last step retries after the next step (jitter ±10%)", () => {
    expect(decideAttempt(outcome(500), 1, schedule, () => 0.5)).toEqual({ kind: "retry", delayMs: 1_000 });
    expect(decideAttempt(outcome(500), 2, schedule, () => 0)).toEqual({ kind: "retry", delayMs: 9_000 });
  });
  it("Retry-After replaces the step", () => expect(decideAttempt(outcome(429, { retryAfterMs: 7_000 }), 1, schedule)).toEqual({ kind: "retry", delayMs: 7_000 }));
  it("the last step fails for good", () => expect(decideAttempt(outcome(500), 3, schedule)).toMatchObject({ kind: "failed", gone: false }));
  it("410 fails and disables", () => expect(decideAttempt(outcome(410), 1, schedule)).toMatchObject({ kind: "failed", gone: true }));
  it("a refused target is not retried", () => {
    expect(decideAttempt(outcome(null, { refused: true, error: "target refused: x" }), 1, schedule)).toMatchObject({ kind: "failed", gone: false });
  });
  it("the record says what the decision means", () => {
    const now = new Date(1_000_000);
    const rec = attemptRecord({ webhookDeliveryId: "d", subscriptionId: "s" }, 2, now, outcome(500), { kind: "retry", delayMs: 500 });
    expect(rec).toMatchObject({ status: "pending", attempt: 2, nextAttemptAt: new Date(1_000_500) });
    expect(attemptRecord({ webhookDeliveryId: "d", subscriptionId: "s" }, 1, now, outcome(200), { kind: "delivered" })).toMatchObject({ status: "succeeded", nextAttemptAt: null });
  });
});

const rec = (subscriptionId: string, at: number, status: AttemptRecord["status"]): AttemptRecord => ({
  webhookDeliveryId: `${subscriptionId}-${at}`,
  subscriptionId,
  attempt: 1,
  attemptedAt: new Date(at),
  durationMs: 1,
  statusCode: status === "succeeded" ? 200 : 500,
  error: null,
  excerpt: null,
  status,
  nextAttemptAt: null,
});

describe("runChanges: a batch of attempts and each subscription's failure run", () => {
  it("failures after the last success count; a success resets", () => {
    const changes = runChanges([rec("a", 3, "pending"), rec("a", 1, "pending"), rec("a", 2, "succeeded"), rec("b", 5, "failed"), rec("c", 1, "succeeded")]);
    expect(changes).toEqual([
      { id: "a", reset: true, failures: 1, firstFailureAt: new Date(3) },
      { id: "b", reset: false, failures: 1, firstFailureAt: new Date(5) },
      { id: "c", reset: true, failures: 0, firstFailureAt: null },
    ]);
  });
});

describe("disableReason", () => {
  const settings = { disableAfterMs: 60_000, disableAfterFailures: 3 };
  const now = new Date(100_000);
  it("410 disables at once", () => expect(disableReason({ id: "s", consecutiveFailures: 1, failingSince: now, status: "active" }, true, settings, now)).toBe("endpoint answered 410 Gone"));
  it("N failures in a row", () => expect(disableReason({ id: "s", consecutiveFailures: 3, failingSince: now, status: "active" }, false, settings, now)).toBe("3 consecutive failed attempts"));
  it("failing for too long", () => expect(disableReason({ id: "s", consecutiveFailures: 1, failingSince: new Date(0), status: "active" }, false, settings, now)).toContain("failing since"));
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
