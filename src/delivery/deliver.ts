// One attempt of one webhook delivery, in three parts (svix's prepare → send → handle):
//   send      sign (Standard Webhooks) and POST to a checked target: I/O only
//   decide    pure: delivered, retry after a delay, or failed for good (data a unit test can check)
//   record    through the attempt recorder (group commit, one statement per batch of attempts)
// The first attempt usually runs in the process that committed the event (delivery/dispatcher.ts); retries
// and re-sends run as BullMQ jobs (attemptDelivery below).
import { Webhook } from "standardwebhooks";
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import type { AttemptRecord } from "../db/delivery-attempts.js";
import type { NewDelivery } from "../db/fan-out.js";
import { ExpectedError, PermanentError } from "../queues/errors.js";
import { parseRetryAfter } from "../lib/retry-after.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import type { DeliveryClient, HttpOutcome as ClientOutcome } from "./http-client.js";
import { retryDelayMs } from "./retry-policy.js";
import { parseTargetUrl, refusedAddress, type TargetPolicy } from "./target-policy.js";
import ipaddr from "ipaddr.js";

export const DELIVERY_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";

export interface DeliverySettings {
  timeoutMs: number;
  schedule: readonly number[];
  disableAfterMs: number;
  disableAfterFailures: number;
  targetPolicy: TargetPolicy;
  /** Keep-alive connections, guarded against non-public addresses at connect time. */
  client: DeliveryClient;
}

export type AttemptResult = "succeeded" | "skipped";
export type DeliveryTarget = NewDelivery["target"];

export interface HttpOutcome extends Omit<ClientOutcome, "retryAfter"> {
  retryAfterMs: number | null;
}

/** Signs with the current secret and, during a rotation's grace period, the previous one too (space-separated). */
export function signatureHeader(secrets: string[], id: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(id, timestamp, body)).join(" ");
}

const refusedOutcome = (reason: string): HttpOutcome => ({ statusCode: null, error: `target refused: ${reason}`, excerpt: null, retryAfterMs: null, durationMs: 0, refused: true });

/** Checks the target against the policy, signs and POSTs. Never throws. */
export async function send(target: DeliveryTarget, eventId: string, body: string, settings: DeliverySettings, now: Date): Promise<HttpOutcome> {
  const url = parseTargetUrl(target.url);
  if (!url) return refusedOutcome("url must be an absolute http(s) URL without credentials");
  // An address literal is checked here; a host name is checked by the client as it connects.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const literal = ipaddr.isValid(host) ? refusedAddress(settings.targetPolicy, host, host) : null;
  if (literal) return refusedOutcome(literal);
  const secrets = [target.secret];
  if (target.previousSecret && target.previousSecretExpiresAt && target.previousSecretExpiresAt > now) secrets.push(target.previousSecret);
  const outcome = await settings.client.post(
    url,
    body,
    {
      "content-type": DELIVERY_CONTENT_TYPE,
      "user-agent": "logistics-event-hub/1.0",
      "webhook-id": eventId,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signatureHeader(secrets, eventId, now, body),
    },
    settings.timeoutMs,
  );
  const { retryAfter, ...rest } = outcome;
  const code = outcome.statusCode;
  return { ...rest, retryAfterMs: code === 429 || code === 503 ? parseRetryAfter(retryAfter) : null };
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
  delivery: { deliveryId: string; subscriptionId: string },
  attempt: number,
  now: Date,
  outcome: HttpOutcome,
  decision: AttemptDecision,
): AttemptRecord {
  return {
    deliveryId: delivery.deliveryId,
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

interface DeliveryRow {
  status: string;
  attempts: number;
  event_id: string;
  envelope: unknown;
  subscription_id: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  sub_status: string;
  deleted_at: Date | null;
}

const LOAD = `
SELECT d.status, d.attempts, d.event_id, e.envelope, d.subscription_id, s.url, s.secret, s.previous_secret,
       s.previous_secret_expires_at, s.status AS sub_status, s.deleted_at
  FROM webhook_deliveries d
  JOIN events e ON e.id = d.event_id
  JOIN subscriptions s ON s.id = d.subscription_id
 WHERE d.id = $1`;

/** One attempt as a BullMQ job (retries, operator re-sends, deliveries the relay fanned out). */
export async function attemptDelivery(
  deps: { db: Database; log: Logger; settings: DeliverySettings; recorder: AttemptRecorder },
  deliveryId: string,
  /** Which attempt of the schedule this is (1-based). A re-sent delivery starts the schedule over. */
  scheduleAttempt: number,
): Promise<AttemptResult> {
  const { rows } = await deps.db.pool.query<DeliveryRow>(LOAD, [deliveryId]);
  const delivery = rows[0];
  // A failed delivery may be attempted again: only an operator's retry queues one.
  if (!delivery || delivery.status === "succeeded" || delivery.status === "cancelled") return "skipped";
  const attempt = delivery.attempts + 1;
  const log = deps.log.child({ deliveryId, eventId: delivery.event_id, subscriptionId: delivery.subscription_id, attempt });

  if (delivery.sub_status !== "active" || delivery.deleted_at) {
    await deps.db.pool.query(
      "UPDATE webhook_deliveries SET status = 'failed', last_error = 'subscription_disabled', completed_at = now(), updated_at = now() WHERE id = $1",
      [deliveryId],
    );
    return "skipped";
  }

  const now = new Date();
  const target: DeliveryTarget = {
    url: delivery.url,
    secret: delivery.secret,
    previousSecret: delivery.previous_secret,
    previousSecretExpiresAt: delivery.previous_secret_expires_at,
  };
  const outcome = await send(target, delivery.event_id, JSON.stringify(delivery.envelope), deps.settings, now);
  const decision = decideAttempt(outcome, scheduleAttempt, deps.settings.schedule);
  await deps.recorder.record(attemptRecord({ deliveryId, subscriptionId: delivery.subscription_id }, attempt, now, outcome, decision), decision);

  if (decision.kind === "delivered") {
    log.info({ statusCode: outcome.statusCode, durationMs: outcome.durationMs }, "webhook delivered");
    return "succeeded";
  }
  log.warn({ statusCode: outcome.statusCode, error: outcome.error, nextDelayMs: decision.kind === "retry" ? decision.delayMs : null }, "webhook delivery attempt failed");
  if (decision.kind === "failed") throw new PermanentError(decision.reason);
  throw new ExpectedError(outcome.error ?? "delivery failed", decision.delayMs);
}
