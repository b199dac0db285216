// Pure decisions of delivery, with no I/O: what an attempt's HTTP outcome means (delivered, retry after a
// delay, failed for good, and whether the subscriber said 410 Gone), the row an attempt writes, and when a
// failing subscription is disabled. Unit-tested in test/unit/delivery-decisions.test.ts.
import type { AttemptRecord } from "../db/delivery-attempts.js";
import type { SubscriptionRun } from "../db/failure-runs.js";
import type { Brokers } from "./brokers/index.js";
import type { AttemptAnswer } from "./attempt-answer.js";
import type { DeliveryClient } from "./http-client.js";
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
  /** Connections to broker destinations (RabbitMQ, NATS), kept per broker. */
  brokers: Brokers;
}

export type { AttemptAnswer };

export type AttemptDecision =
  | { kind: "delivered" }
  | { kind: "retry"; delayMs: number }
  /** 429: the subscriber asked us to slow down. The lane pauses; no step of the schedule is used, no failure counted. */
  | { kind: "throttled"; delayMs: number }
  /** No further attempt: `gone` (410) also disables the subscription. */
  | { kind: "failed"; reason: string; gone: boolean };

/** Where a delivery stands in its retry schedule, as its row says. */
export interface ScheduleState {
  /** Steps of the schedule used before this attempt. */
  scheduleStep: number;
  /** When the schedule (re)started: the delivery's creation, release (ordered mode) or re-send. */
  scheduleStartedAt: Date;
}

/** The longest a delivery may keep being answered 429: as long as the whole schedule would take (at least a minute). */
function throttleBudgetMs(schedule: readonly number[]): number {
  return Math.max(
    60_000,
    schedule.reduce((a, b) => a + b, 0),
  );
}

/** Pure: what an attempt's outcome means, given where the delivery stands in its schedule. */
export function decideAttempt(outcome: AttemptAnswer, state: ScheduleState, schedule: readonly number[], now: Date, random = Math.random): AttemptDecision {
  const code = outcome.statusCode;
  if (outcome.confirmed || (code !== null && code >= 200 && code < 300)) return { kind: "delivered" };
  const error = outcome.error ?? "delivery failed";
  if (code === 410) return { kind: "failed", reason: error, gone: true };
  if (outcome.refused) return { kind: "failed", reason: error, gone: false };
  const step = state.scheduleStep + 1;
  if (code === 429 || outcome.unavailable) {
    if (now.getTime() - state.scheduleStartedAt.getTime() >= throttleBudgetMs(schedule)) {
      const what = outcome.unavailable ? "the broker was unavailable" : "answered 429";
      return { kind: "failed", reason: `${what} for longer than the retry schedule: ${error}`, gone: false };
    }
    return { kind: "throttled", delayMs: Math.max(1_000, retryDelayMs(schedule, Math.max(1, state.scheduleStep), outcome.retryAfterMs, random)) };
  }
  if (step >= schedule.length) return { kind: "failed", reason: `delivery failed after ${step} attempts: ${error}`, gone: false };
  return { kind: "retry", delayMs: retryDelayMs(schedule, step, outcome.retryAfterMs, random) };
}

/**
 * The row an attempt writes. A wait (a retry's delay, a 429's pause) counts from when the answer came, not from
 * when the request was sent: `Retry-After: 1` after a slow answer still means a second from that answer.
 */
export function attemptRecord(
  delivery: { webhookDeliveryId: string; subscriptionId: string; leaseToken: string | null } & ScheduleState,
  attempt: number,
  at: { sent: Date; answered: Date },
  outcome: AttemptAnswer,
  decision: AttemptDecision,
): AttemptRecord {
  const waiting = decision.kind === "retry" || decision.kind === "throttled";
  return {
    webhookDeliveryId: delivery.webhookDeliveryId,
    subscriptionId: delivery.subscriptionId,
    leaseToken: delivery.leaseToken,
    attempt,
    attemptedAt: at.sent,
    durationMs: outcome.durationMs,
    statusCode: outcome.statusCode,
    error: outcome.error,
    excerpt: outcome.excerpt,
    status: decision.kind === "delivered" ? "succeeded" : waiting ? "pending" : "failed",
    nextAttemptAt: waiting ? new Date(at.answered.getTime() + decision.delayMs) : null,
    scheduleStep: decision.kind === "throttled" ? delivery.scheduleStep : delivery.scheduleStep + 1,
    throttled: decision.kind === "throttled",
  };
}

/** Pure: why a failing subscription should be disabled now, or null. */
export function disableReason(
  run: SubscriptionRun,
  gone: boolean,
  settings: Pick<DeliverySettings, "disableAfterMs" | "disableAfterFailures">,
  now: Date,
): string | null {
  if (run.status !== "active") return null;
  if (gone) return "endpoint answered 410 Gone";
  if (run.consecutiveFailures === 0 || !run.failingSince) return null;
  if (settings.disableAfterFailures > 0 && run.consecutiveFailures >= settings.disableAfterFailures) {
    return `${run.consecutiveFailures} consecutive failed attempts`;
  }
  if (now.getTime() - run.failingSince.getTime() >= settings.disableAfterMs) return `failing since ${run.failingSince.toISOString()}`;
  return null;
}
