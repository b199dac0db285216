// One attempt of one webhook delivery: sign (Standard Webhooks), POST, record, classify.
import { Webhook } from "standardwebhooks";
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { withTransaction } from "../db/sql.js";
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
  consecutive_failures: number;
  failing_since: Date | null;
}

const LOAD = `
SELECT d.status, d.attempts, d.event_id, e.envelope, d.subscription_id, s.url, s.secret, s.previous_secret,
       s.previous_secret_expires_at, s.status AS sub_status, s.deleted_at, s.consecutive_failures, s.failing_since
  FROM webhook_deliveries d
  JOIN events e ON e.id = d.event_id
  JOIN subscriptions s ON s.id = d.subscription_id
 WHERE d.id = $1`;

export async function attemptDelivery(
  deps: { db: Database; log: Logger; settings: DeliverySettings },
  deliveryId: string,
  /** This job's attempt (1-based): it picks the retry step. A re-sent delivery starts the schedule over. */
  jobAttempt: number,
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
  const target = await checkTarget(deps.settings.targetPolicy, delivery.url);
  const body = JSON.stringify(delivery.envelope);
  let outcome: HttpOutcome;
  if (!target.ok) {
    outcome = { statusCode: null, error: `target refused: ${target.reason}`, excerpt: null, retryAfterMs: null, durationMs: 0 };
  } else {
    const secrets = [delivery.secret];
    if (delivery.previous_secret && delivery.previous_secret_expires_at && delivery.previous_secret_expires_at > now) {
      secrets.push(delivery.previous_secret);
    }
    outcome = await post(
      delivery.url,
      body,
      {
        "content-type": DELIVERY_CONTENT_TYPE,
        "user-agent": "logistics-event-hub/1.0",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": signatureHeader(secrets, delivery.event_id, now, body),
      },
      deps.settings.timeoutMs,
    );
  }

  const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  const gone = outcome.statusCode === 410;
  const lastAttempt = jobAttempt >= deps.settings.schedule.length;
  const permanent = gone || !target.ok;
  const delayMs = succeeded || permanent || lastAttempt ? null : retryDelayMs(deps.settings.schedule, jobAttempt, outcome.retryAfterMs);

  const disableReason = await withTransaction(deps.db, async (sql) => {
    await sql.query(
      `INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, status_code, error, response_excerpt)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [deliveryId, attempt, now, outcome.durationMs, outcome.statusCode, outcome.error, outcome.excerpt],
    );
    await sql.query(
      `UPDATE webhook_deliveries SET attempts = $2, last_status_code = $3, last_error = $4, status = $5, next_attempt_at = $6,
              completed_at = $7, updated_at = now() WHERE id = $1`,
      [
        deliveryId,
        attempt,
        outcome.statusCode,
        outcome.error,
        succeeded ? "succeeded" : delayMs === null ? "failed" : "pending",
        delayMs === null ? null : new Date(now.getTime() + delayMs),
        succeeded || delayMs === null ? now : null,
      ],
    );
    if (succeeded) {
      await sql.query("UPDATE subscriptions SET consecutive_failures = 0, failing_since = NULL, updated_at = now() WHERE id = $1 AND consecutive_failures > 0", [
        delivery.subscription_id,
      ]);
      return null;
    }
    // Counted in SQL: parallel attempts to one endpoint must not lose increments.
    const [sub] = await sql.query<{ consecutive_failures: number; failing_since: Date; status: string }>(
      `UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1, failing_since = COALESCE(failing_since, $2), updated_at = now()
        WHERE id = $1 RETURNING consecutive_failures, failing_since, status`,
      [delivery.subscription_id, now],
    );
    if (!sub || sub.status !== "active") return null;
    const { disableAfterMs, disableAfterFailures } = deps.settings;
    const reason = gone
      ? "endpoint answered 410 Gone"
      : disableAfterFailures > 0 && sub.consecutive_failures >= disableAfterFailures
        ? `${sub.consecutive_failures} consecutive failed attempts`
        : now.getTime() - sub.failing_since.getTime() >= disableAfterMs
          ? `failing since ${sub.failing_since.toISOString()}`
          : null;
    if (reason) {
      await sql.query("UPDATE subscriptions SET status = 'disabled', disabled_reason = $2, disabled_at = $3, updated_at = now() WHERE id = $1", [
        delivery.subscription_id,
        reason,
        now,
      ]);
      await recordOperatorEvent(sql, { subscriptionId: delivery.subscription_id, status: "disabled", reason, time: now });
    }
    return reason;
  });

  if (succeeded) {
    log.info({ statusCode: outcome.statusCode, durationMs: outcome.durationMs }, "webhook delivered");
    return "succeeded";
  }
  if (disableReason) log.warn({ reason: disableReason }, "subscription disabled");
  log.warn({ statusCode: outcome.statusCode, error: outcome.error, nextDelayMs: delayMs }, "webhook delivery attempt failed");
  if (permanent) throw new PermanentError(outcome.error ?? "permanent failure");
  if (delayMs === null) throw new PermanentError(`delivery failed after ${jobAttempt} attempts: ${outcome.error}`);
  throw new ExpectedError(outcome.error ?? "delivery failed", delayMs);
}
