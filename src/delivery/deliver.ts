// The I/O of one attempt: sign (Standard Webhooks) and POST to a checked target, or publish to a broker
// destination (./brokers). The attempt path around it (claim → send → decide → record) is delivery/pump.ts,
// the same for first attempts, retries and re-sends, whatever the destination.
import { createHmac } from "node:crypto";
import { parseRetryAfter } from "../lib/retry-after.js";
import type { DeliverySettings, AttemptAnswer } from "./decisions.js";
import { parseTargetUrl, refusedAddress } from "./target-policy.js";
import ipaddr from "ipaddr.js";
import type { BrokerOptions } from "../domain/destinations.js";
import { type BrokerMessage, refusedTarget } from "./brokers/types.js";

const DELIVERY_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";

export interface DeliveryTarget {
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  /** Static request headers (validated when set: they never replace the protocol's own). */
  headers?: Record<string, string>;
  /** A broker destination's options (its URL is `url`); null or absent for an HTTP endpoint. */
  destination?: BrokerOptions | null;
}

const SECRET_PREFIX = "whsec_";

/**
 * One Standard Webhooks `v1` signature: base64 of HMAC-SHA256 over `<id>.<unix seconds>.<body>`, keyed with
 * the secret's bytes (the base64 after `whsec_`). The same as the standardwebhooks library's `sign`
 * (test/unit/signature-header.test.ts), computed by node:crypto: the library's pure-JS SHA-256 cost a sixth
 * of every attempt's CPU.
 */
function sign(secret: string, id: string, timestamp: Date, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
  const seconds = Math.floor(timestamp.getTime() / 1000);
  return `v1,${createHmac("sha256", key).update(`${id}.${seconds}.${body}`).digest("base64")}`;
}

/** Signs with the current secret and, during a rotation's grace period, the previous one too (space-separated). */
export function signatureHeader(secrets: string[], id: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => sign(secret, id, timestamp, body)).join(" ");
}

/** Sends one event: published to the subscription's broker, or signed and POSTed to its endpoint. Never throws. */
export function sendAttempt(
  target: DeliveryTarget,
  eventId: string,
  body: string,
  settings: DeliverySettings,
  now: Date,
  traceHeaders: Record<string, string> | null = null,
  replayId: string | null = null,
): Promise<AttemptAnswer> {
  if (!target.destination) return signAndPost(target, eventId, body, settings, now, traceHeaders, replayId);
  const message: BrokerMessage = { eventId, body, attributes: attributesOf(body), headers: { ...target.headers, ...traceHeaders }, replayId };
  return settings.brokers[target.destination.type].publish({ url: target.url, options: target.destination }, message, settings.timeoutMs);
}

/** The envelope attributes a routing key or subject template may use. */
function attributesOf(body: string): BrokerMessage["attributes"] {
  try {
    const { type, subject, source } = JSON.parse(body) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    return { type: text(type), subject: text(subject), source: text(source) };
  } catch {
    return {};
  }
}

/** Checks the target against the policy, signs and POSTs. Never throws. */
async function signAndPost(
  target: DeliveryTarget,
  eventId: string,
  body: string,
  settings: DeliverySettings,
  now: Date,
  /** The attempt span's `traceparent`/`tracestate`, sent along (tracing on only). */
  traceHeaders: Record<string, string> | null = null,
  /** A replay's delivery says so (`hub-replay: <replay id>`): the same webhook-id, sent again on purpose. */
  replayId: string | null = null,
): Promise<AttemptAnswer> {
  const url = parseTargetUrl(target.url);
  if (!url) return refusedTarget("url must be an absolute http(s) URL without credentials");
  // An address literal is checked here; a host name is checked by the client as it connects.
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const literal = ipaddr.isValid(host) ? refusedAddress(settings.targetPolicy, host, host) : null;
  if (literal) return refusedTarget(literal);
  const secrets = [target.secret];
  if (target.previousSecret && target.previousSecretExpiresAt && target.previousSecretExpiresAt > now) secrets.push(target.previousSecret);
  const outcome = await settings.client.post(
    url,
    body,
    {
      "user-agent": "logistics-event-hub/1.0",
      ...target.headers,
      "content-type": DELIVERY_CONTENT_TYPE,
      "webhook-id": eventId,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signatureHeader(secrets, eventId, now, body),
      ...(replayId ? { "hub-replay": replayId } : {}),
      ...traceHeaders,
    },
    settings.timeoutMs,
  );
  const { retryAfter, ...rest } = outcome;
  const code = outcome.statusCode;
  return { ...rest, retryAfterMs: code === 429 || code === 503 ? parseRetryAfter(retryAfter) : null };
}
