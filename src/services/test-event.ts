// `hub.test`: a signed test event sent to one endpoint on request, to check its URL and its secret. It goes
// out like any delivery (the target policy, the signature with the current secret and, during a rotation, the
// previous one), but it is never written to the event log, never sent to another subscription, and its
// outcome changes nothing about the endpoint (no failure run, no disable rule). The attempt's outcome is the
// answer, and an audit row records who sent it.
import { randomUUID } from "node:crypto";
import { appendAudit, logAudit } from "../db/audit.js";
import type { Database } from "../db/client.js";
import { onPool } from "../db/sql.js";
import { createEvent } from "../domain/event-catalog.js";
import type { Logger } from "pino";
import { createBrokers } from "../delivery/brokers/index.js";
import { sendAttempt } from "../delivery/deliver.js";
import { createDeliveryClient } from "../delivery/http-client.js";
import { findSubscription } from "./subscriptions.js";
import type { TargetPolicy } from "../delivery/target-policy.js";

export interface TestOutcome {
  eventId: string;
  /** 2xx from the endpoint, or the broker confirmed the publish. */
  delivered: boolean;
  statusCode: number | null;
  durationMs: number;
  /** The start of the endpoint's answer, or what went wrong (timeout, refused target, connection error). */
  excerpt: string | null;
  error: string | null;
}

export async function sendTestEvent(
  deps: { db: Database; log: Logger; policy: TargetPolicy; timeoutMs: number },
  actor: string,
  id: string,
): Promise<TestOutcome | null> {
  const subscription = await findSubscription(onPool(deps.db), id);
  if (!subscription) return null;
  const now = new Date();
  const event = createEvent({
    entity: "hub",
    entityId: subscription.id,
    externalId: null,
    type: "test",
    status: "test",
    previousStatus: null,
    providerStatus: "test",
    sequence: 1,
    time: now,
    timeSource: "hub",
    details: {
      message: "A test event from the logistics event hub: your endpoint received and can verify it.",
      subscriptionId: subscription.id,
      requestedBy: actor,
    },
    dedupeKey: `hub.test:${randomUUID()}`,
  });
  const client = createDeliveryClient(deps.policy, { maxSockets: 1 });
  const brokers = createBrokers(deps.policy);
  try {
    const outcome = await sendAttempt(
      subscription,
      event.id,
      JSON.stringify(event),
      { timeoutMs: deps.timeoutMs, schedule: [], disableAfterMs: 0, disableAfterFailures: 0, targetPolicy: deps.policy, client, brokers },
      now,
    );
    const delivered = outcome.confirmed === true || (outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300);
    const audit = { actor, action: "subscription.test", target: subscription.id, details: { eventId: event.id, statusCode: outcome.statusCode, delivered } };
    await appendAudit(deps.db, audit);
    logAudit(deps.log, audit);
    return {
      eventId: event.id,
      delivered,
      statusCode: outcome.statusCode,
      durationMs: Math.round(outcome.durationMs),
      excerpt: outcome.excerpt,
      error: outcome.error,
    };
  } finally {
    client.close();
    await brokers.close();
  }
}
