// One attempt of one webhook delivery, in three parts (svix's prepare → send → handle):
//   send      sign (Standard Webhooks) and POST to a checked target: I/O only
//   decide    pure: delivered, retry after a delay, or failed for good (data a unit test can check)
//   record    through the attempt recorder (group commit, one statement per batch of attempts)
// The first attempt usually runs in the process that committed the event (delivery/dispatcher.ts); retries
// and re-sends run as BullMQ jobs (attemptDelivery below).
import { Webhook } from "standardwebhooks";
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import type { NewDelivery } from "../db/fan-out.js";
import { failForInactiveSubscription, loadForAttempt } from "../db/webhook-deliveries.js";
import { ExpectedError, PermanentError } from "../queues/errors.js";
import { parseRetryAfter } from "../lib/retry-after.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import { attemptRecord, decideAttempt, type DeliverySettings, type HttpOutcome } from "./decisions.js";
import { parseTargetUrl, refusedAddress, type TargetPolicy } from "./target-policy.js";
import ipaddr from "ipaddr.js";

export const DELIVERY_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";

export type AttemptResult = "succeeded" | "skipped";
export type DeliveryTarget = NewDelivery["target"];

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

/** One attempt as a BullMQ job (retries, operator re-sends, deliveries the relay fanned out). */
export async function attemptDelivery(
  deps: { db: Database; log: Logger; settings: DeliverySettings; recorder: AttemptRecorder },
  webhookDeliveryId: string,
  /** Which attempt of the schedule this is (1-based). A re-sent delivery starts the schedule over. */
  scheduleAttempt: number,
): Promise<AttemptResult> {
  const delivery = await loadForAttempt(deps.db, webhookDeliveryId);
  // A failed delivery may be attempted again: only an operator's retry queues one.
  if (!delivery || delivery.status === "succeeded" || delivery.status === "cancelled") return "skipped";
  if (!delivery.subscriptionActive) {
    await failForInactiveSubscription(deps.db, webhookDeliveryId);
    return "skipped";
  }
  const attempt = delivery.attempts + 1;
  const log = deps.log.child({ webhookDeliveryId, eventId: delivery.eventId, subscriptionId: delivery.subscriptionId, attempt });

  const now = new Date();
  const outcome = await send(delivery, delivery.eventId, JSON.stringify(delivery.envelope), deps.settings, now);
  const decision = decideAttempt(outcome, scheduleAttempt, deps.settings.schedule);
  await deps.recorder.record(attemptRecord({ webhookDeliveryId, subscriptionId: delivery.subscriptionId }, attempt, now, outcome, decision), decision);

  if (decision.kind === "delivered") {
    log.info({ statusCode: outcome.statusCode, durationMs: outcome.durationMs }, "webhook delivered");
    return "succeeded";
  }
  log.warn({ statusCode: outcome.statusCode, error: outcome.error, nextDelayMs: decision.kind === "retry" ? decision.delayMs : null }, "webhook delivery attempt failed");
  if (decision.kind === "failed") throw new PermanentError(decision.reason);
  throw new ExpectedError(outcome.error ?? "delivery failed", decision.delayMs);
}
