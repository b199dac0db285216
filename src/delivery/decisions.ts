// Pure decisions of delivery, with no I/O: what an attempt's HTTP outcome means (delivered, retry after a
// delay, failed for good, and whether the subscriber said 410 Gone), the row an attempt writes, and when a
// failing subscription is disabled. Unit-tested in test/unit/delivery-decisions.test.ts.
import type { AttemptRecord, SubscriptionRun } from "../db/delivery-attempts.js";
import type { DeliveryClient, HttpOutcome as ClientOutcome } from "./http-client.js";
import { retryDelayMs } from "./retry-policy.js";
import type { TargetPolicy } from "./target-policy.js";

export interface DeliverySettings {
  timeoutMs: number;
  schedule: readonly number[];
  disableAfterMs: number;
  disableAfterFailures: number;
  targetPolicy: TargetPolicy;
  /** Keep-alive connections, guarded against non-public addresses at connect time. */
  client: DeliveryClient;
}

export interface HttpOutcome extends Omit<ClientOutcome, "retryAfter"> {
  retryAfterMs: number | null;
}

export type AttemptDecision =
  | { kind: "delivered" }
  | { kind: "retry"; delayMs: number }
  /** No further attempt: `gone` (410) also disables the subscription. */
  | { kind: "failed"; reason: string; gone: boolean };

/** Pure: what an attempt's outcome means, given which attempt of the schedule it was (1-based). */
export function decideAttempt(outcome: HttpOutcome, scheduleAttempt: number, schedule: readonly number[], random = Math.random): AttemptDecision {
  const code = outcome.statusCode;
  if (code !== null && code >= 200 && code < 300) return { kind: "delivered" };
  const error = outcome.error ?? "delivery failed";
  if (code === 410) return { kind: "failed", reason: error, gone: true };
  if (outcome.refused) return { kind: "failed", reason: error, gone: false };
  if (scheduleAttempt >= schedule.length) return { kind: "failed", reason: `delivery failed after ${scheduleAttempt} attempts: ${error}`, gone: false };
  return { kind: "retry", delayMs: retryDelayMs(schedule, scheduleAttempt, outcome.retryAfterMs, random) };
}

/** The row an attempt writes. */
export function attemptRecord(
  delivery: { webhookDeliveryId: string; subscriptionId: string },
  attempt: number,
  now: Date,
  outcome: HttpOutcome,
  decision: AttemptDecision,
): AttemptRecord {
  return {
    webhookDeliveryId: delivery.webhookDeliveryId,
    subscriptionId: delivery.subscriptionId,
    attempt,
    attemptedAt: now,
    durationMs: outcome.durationMs,
    statusCode: outcome.statusCode,
    error: outcome.error,
    excerpt: outcome.excerpt,
    status: decision.kind === "delivered" ? "succeeded" : decision.kind === "retry" ? "pending" : "failed",
    nextAttemptAt: decision.kind === "retry" ? new Date(now.getTime() + decision.delayMs) : null,
  };
}

/** Pure: why a failing subscription should be disabled now, or null. */
export function disableReason(run: SubscriptionRun, gone: boolean, settings: Pick<DeliverySettings, "disableAfterMs" | "disableAfterFailures">, now: Date): string | null {
  if (run.status !== "active") return null;
  if (gone) return "endpoint answered 410 Gone";
  if (run.consecutiveFailures === 0 || !run.failingSince) return null;
  if (settings.disableAfterFailures > 0 && run.consecutiveFailures >= settings.disableAfterFailures) {
    return `${run.consecutiveFailures} consecutive failed attempts`;
  }
  if (now.getTime() - run.failingSince.getTime() >= settings.disableAfterMs) return `failing since ${run.failingSince.toISOString()}`;
  return null;
}

