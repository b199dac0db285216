// One delivery attempt: send (sign and POST), decide (pure), record (group commit) and count it, with its
// log line; inside a `webhook.deliver` span of the event's trace when tracing is on. The pump (./pump.ts)
// claims what to attempt and schedules the lane from the decision.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import type { ClaimedDelivery, LaneRow } from "../db/delivery-lanes.js";
import { eventTraceContext } from "../db/events.js";
import type { Metrics } from "../observability/metrics.js";
import { carrierOf, contextOf, inSpan, recentEventTrace, SpanKind, type Span, tracingOn } from "../observability/spans.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import { type AttemptDecision, attemptRecord, decideAttempt, type DeliverySettings } from "./decisions.js";
import { sendAttempt } from "./deliver.js";
import { type Clock, systemClock } from "../lib/clock.js";

export interface AttemptDeps {
  /** Time (src/lib/clock.ts): the system's unless a test holds it. */
  clock?: Clock;
  db: Database;
  log: Logger;
  metrics: Metrics;
  delivery: DeliverySettings;
  recorder: AttemptRecorder;
  /** One readable info line per attempt (LOG_DELIVERY_OUTCOMES). */
  logOutcomes: boolean;
}

/**
 * Sends one claimed delivery (inside a `webhook.deliver` span of its event's trace when tracing is on),
 * records the attempt and counts it; answers what was decided, for the pump to schedule the lane.
 */
export async function runAttempt(deps: AttemptDeps, claimed: ClaimedDelivery, lane: LaneRow): Promise<AttemptDecision> {
  if (!tracingOn()) return attemptIn(deps, claimed, lane, null);
  // Every attempt (first or retry, in whichever worker) is a span of the trace that wrote its event.
  const parent = contextOf(recentEventTrace(claimed.eventId) ?? (await eventTraceContext(deps.db, claimed.eventId)));
  const attributes = {
    "hub.webhook_delivery_id": claimed.webhookDeliveryId,
    "hub.event_id": claimed.eventId,
    "hub.subscription_id": lane.subscriptionId,
    "hub.attempt": claimed.attempts + 1,
  };
  return inSpan("webhook.deliver", { parent, kind: SpanKind.CLIENT, attributes }, (span) => attemptIn(deps, claimed, lane, span));
}

async function attemptIn(deps: AttemptDeps, claimed: ClaimedDelivery, lane: LaneRow, span: Span | null): Promise<AttemptDecision> {
  const { delivery, recorder, metrics, log } = deps;
  const clock = deps.clock ?? systemClock;
  const now = new Date(clock.now());
  const outcome = await sendAttempt(lane, claimed.eventId, claimed.body, delivery, now, span ? carrierOf() : null, claimed.replayId ?? null);
  const answered = new Date(clock.now());
  const decision = decideAttempt(outcome, claimed, delivery.schedule, answered);
  span?.setAttributes({ "http.response.status_code": outcome.statusCode ?? 0, "hub.outcome": decision.kind });
  await recorder.record(attemptRecord(claimed, claimed.attempts + 1, { sent: now, answered }, outcome, decision), decision);
  const outcomeLabel = decision.kind === "delivered" ? "succeeded" : decision.kind;
  metrics.deliveries.inc({ outcome: outcomeLabel });
  metrics.deliveryAttempts.inc({ subscription_id: lane.subscriptionId, outcome: outcomeLabel });
  const fields = {
    webhookDeliveryId: claimed.webhookDeliveryId,
    eventId: claimed.eventId,
    subscriptionId: lane.subscriptionId,
    attempt: claimed.attempts + 1,
    statusCode: outcome.statusCode,
  };
  if (deps.logOutcomes)
    log.info(
      { ...fields, durationMs: Math.round(outcome.durationMs) },
      outcomeLine(
        claimed,
        lane,
        outcome.confirmed ? "confirmed" : outcome.statusCode !== null ? String(outcome.statusCode) : (outcome.error ?? "no answer"),
        decision.kind,
        outcome.durationMs,
      ),
    );
  else if (decision.kind === "delivered") log.debug({ ...fields, durationMs: outcome.durationMs }, "webhook delivered");
  else if (decision.kind === "failed") log.warn({ ...fields, error: decision.reason }, "webhook delivery failed");
  else
    log.info(
      { ...fields, error: outcome.error, nextDelayMs: decision.delayMs },
      decision.kind === "throttled" ? "subscriber asked to slow down" : "webhook delivery attempt failed",
    );
  return decision;
}

/**
 * `reservation.created reservation/4711 → hooks.example.com: 204 in 12 ms (attempt 1)`, for people watching
 * (a broker's host, never its credentials: `→ mq.internal:5672: confirmed in 3 ms`).
 */
function outcomeLine(claimed: ClaimedDelivery, lane: LaneRow, answer: string, kind: string, durationMs: number): string {
  let type = "event";
  let subject = claimed.eventId;
  try {
    const event = JSON.parse(claimed.body) as { type?: string; subject?: string };
    type = event.type ?? type;
    subject = event.subject ?? subject;
  } catch {
    // the body is the envelope we wrote: always JSON
  }
  let host = "?";
  try {
    host = new URL(lane.url).host;
  } catch {
    // a URL that does not parse was refused before any attempt
  }
  return (
    `${type} ${subject} → ${host}: ${answer} in ${Math.round(durationMs)} ms (attempt ` + `${claimed.attempts + 1}${kind === "delivered" ? "" : `, ${kind}`})`
  );
}
