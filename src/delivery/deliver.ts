// One attempt of one webhook delivery: sign (Standard Webhooks), POST, record, classify.
import { Webhook } from "standardwebhooks";
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { ExpectedError, PermanentError } from "../queues/errors.js";
import { parseRetryAfter } from "../lib/retry-after.js";
import { recordOperatorEvent } from "./operator-events.js";
import { retryDelayMs } from "./retry-policy.js";
import { checkTarget, type TargetPolicy } from "./target-policy.js";

export const DELIVERY_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";
const EXCERPT_BYTES = 1024;

export interface DeliverySettings {
  timeoutMs: number;
  schedule: readonly number[];
  disableAfterMs: number;
  disableAfterFailures: number;
  targetPolicy: TargetPolicy;
}


export type AttemptResult = "succeeded" | "skipped";

interface HttpOutcome {
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  retryAfterMs: number | null;
  durationMs: number;
}

async function readExcerpt(response: Response): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < EXCERPT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8");
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<HttpOutcome> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const excerpt = await readExcerpt(response).catch(() => null);
    return {
      statusCode: response.status,
      error: response.ok ? null : `HTTP ${response.status}`,
      excerpt,
      retryAfterMs: response.status === 429 || response.status === 503 ? parseRetryAfter(response.headers.get("retry-after")) : null,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    const err = error as Error;
    const message = err.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : (err.cause as Error | undefined)?.message ?? err.message;
    return { statusCode: null, error: message, excerpt: null, retryAfterMs: null, durationMs: Math.round(performance.now() - started) };
  }
}

/** Signs with the current secret and, during a rotation's grace period, the previous one too (space-separated). */
export function signatureHeader(secrets: string[], id: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(id, timestamp, body)).join(" ");
}

export async function attemptDelivery(
  deps: { db: Database; log: Logger; settings: DeliverySettings },
  deliveryId: string,
  /** This job's attempt (1-based): it picks the retry step. A re-sent delivery starts the schedule over. */
  jobAttempt: number,
): Promise<AttemptResult> {
  const { prisma } = deps.db;
  const delivery = await prisma.webhookDelivery.findUnique({
    where: { id: deliveryId },
    include: { event: true, subscription: true },
  });
  // A failed delivery may be attempted again: only an operator's retry queues one.
  if (!delivery || delivery.status === "succeeded" || delivery.status === "cancelled") return "skipped";
  const { subscription, event } = delivery;
  const attempt = delivery.attempts + 1;
  const log = deps.log.child({ deliveryId, eventId: event.id, subscriptionId: subscription.id, attempt });

  if (subscription.status !== "active" || subscription.deletedAt) {
    await prisma.webhookDelivery.update({
      where: { id: deliveryId },
      data: { status: "failed", lastError: "subscription_disabled", completedAt: new Date() },
    });
    return "skipped";
  }

  const now = new Date();
  const target = await checkTarget(deps.settings.targetPolicy, subscription.url);
  const body = JSON.stringify(event.envelope);
  let outcome: HttpOutcome;
  if (!target.ok) {
    outcome = { statusCode: null, error: `target refused: ${target.reason}`, excerpt: null, retryAfterMs: null, durationMs: 0 };
  } else {
    const secrets = [subscription.secret];
    if (subscription.previousSecret && subscription.previousSecretExpiresAt && subscription.previousSecretExpiresAt > now) {
      secrets.push(subscription.previousSecret);
    }
    outcome = await post(
      subscription.url,
      body,
      {
        "content-type": DELIVERY_CONTENT_TYPE,
        "user-agent": "logistics-event-hub/1.0",
        "webhook-id": event.id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signatureHeader(secrets, event.id, now, body),
      },
      deps.settings.timeoutMs,
    );
  }

  const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  const gone = outcome.statusCode === 410;
  const lastAttempt = jobAttempt >= deps.settings.schedule.length;
  const permanent = gone || !target.ok;
  const delayMs = succeeded || permanent || lastAttempt ? null : retryDelayMs(deps.settings.schedule, jobAttempt, outcome.retryAfterMs);

  await prisma.$transaction(async (tx) => {
    await tx.deliveryAttempt.create({
      data: {
        deliveryId,
        attempt,
        attemptedAt: now,
        durationMs: outcome.durationMs,
        statusCode: outcome.statusCode,
        error: outcome.error,
        responseExcerpt: outcome.excerpt,
      },
    });
    await tx.webhookDelivery.update({
      where: { id: deliveryId },
      data: {
        attempts: attempt,
        lastStatusCode: outcome.statusCode,
        lastError: outcome.error,
        status: succeeded ? "succeeded" : delayMs === null ? "failed" : "pending",
        nextAttemptAt: delayMs === null ? null : new Date(now.getTime() + delayMs),
        completedAt: succeeded || delayMs === null ? now : null,
      },
    });
    if (succeeded) {
      await tx.subscription.update({ where: { id: subscription.id }, data: { consecutiveFailures: 0, failingSince: null } });
      return;
    }
    const failures = subscription.consecutiveFailures + 1;
    const failingSince = subscription.failingSince ?? now;
    const { disableAfterMs, disableAfterFailures } = deps.settings;
    const disableReason = gone
      ? "endpoint answered 410 Gone"
      : disableAfterFailures > 0 && failures >= disableAfterFailures
        ? `${failures} consecutive failed attempts`
        : now.getTime() - failingSince.getTime() >= disableAfterMs
          ? `failing since ${failingSince.toISOString()}`
          : null;
    await tx.subscription.update({
      where: { id: subscription.id },
      data: {
        consecutiveFailures: failures,
        failingSince,
        ...(disableReason ? { status: "disabled", disabledReason: disableReason, disabledAt: now } : {}),
      },
    });
    if (disableReason) {
      log.warn({ reason: disableReason }, "subscription disabled");
      await recordOperatorEvent(tx, {
        subscriptionId: subscription.id,
        status: "disabled",
        reason: disableReason,
        time: now,
      });
    }
  });

  if (succeeded) {
    log.info({ statusCode: outcome.statusCode, durationMs: outcome.durationMs }, "webhook delivered");
    return "succeeded";
  }
  log.warn({ statusCode: outcome.statusCode, error: outcome.error, nextDelayMs: delayMs }, "webhook delivery attempt failed");
  if (permanent) throw new PermanentError(outcome.error ?? "permanent failure");
  if (delayMs === null) throw new PermanentError(`delivery failed after ${jobAttempt} attempts: ${outcome.error}`);
  throw new ExpectedError(outcome.error ?? "delivery failed", delayMs);
}
