// First attempts in the process that committed the event: the drain hands over each new delivery with its
// target, and it is signed and POSTed at once, with no queue round trip and no read-back. At most
// `maxInFlight` run at once; the rest wait here, up to `maxWaiting`, beyond which (a subscriber that stalls
// while events keep coming) they go to the queue as jobs. A failed first attempt becomes a delayed BullMQ
// job (the schedule's next step); a delivery whose attempt never ended (the process died) is re-queued by
// the relay's stranded-delivery sweep.
import type { Logger } from "pino";
import type { NewDelivery } from "../db/fan-out.js";
import type { CloudEvent } from "../domain/events.js";
import type { Metrics } from "../observability/metrics.js";
import type { Queues } from "../queues/queues.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import { attemptRecord, decideAttempt, type DeliverySettings } from "./decisions.js";
import { send } from "./deliver.js";

export interface Dispatcher {
  dispatch(events: CloudEvent[], deliveries: NewDelivery[]): void;
  /** Resolves when every attempt started so far is recorded. */
  idle(): Promise<void>;
}

export function createDispatcher(deps: {
  settings: DeliverySettings;
  recorder: AttemptRecorder;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
  /** Attempts in flight at most. */
  maxInFlight?: number;
  /** Deliveries waiting for a slot at most; beyond it they go to the queue. */
  maxWaiting?: number;
}): Dispatcher {
  const maxInFlight = deps.maxInFlight ?? 128;
  const maxWaiting = deps.maxWaiting ?? 5_000;
  const inFlight = new Set<Promise<void>>();
  const waiting: { delivery: NewDelivery; body: string }[] = [];
  const { schedule } = deps.settings;

  async function attempt(delivery: NewDelivery, body: string) {
    const now = new Date();
    const outcome = await send(delivery.target, delivery.eventId, body, deps.settings, now);
    const decision = decideAttempt(outcome, 1, schedule);
    await deps.recorder.record(attemptRecord(delivery, 1, now, outcome, decision), decision);
    deps.metrics.deliveries.inc({ outcome: decision.kind === "delivered" ? "succeeded" : decision.kind });
    if (decision.kind === "retry") {
      deps.log.warn({ webhookDeliveryId: delivery.webhookDeliveryId, statusCode: outcome.statusCode, error: outcome.error, nextDelayMs: decision.delayMs }, "webhook delivery attempt failed");
      await deps.queues.enqueue("deliverWebhook", { webhookDeliveryId: delivery.webhookDeliveryId, scheduleAttempt: 2 }, { delay: decision.delayMs });
    } else if (decision.kind === "failed") {
      deps.log.warn({ webhookDeliveryId: delivery.webhookDeliveryId, statusCode: outcome.statusCode, error: decision.reason }, "webhook delivery failed");
    }
  }

  function enqueue(deliveries: NewDelivery[]) {
    deps.queues
      .enqueueMany("deliverWebhook", deliveries.map((d) => ({ webhookDeliveryId: d.webhookDeliveryId })))
      .catch((error: unknown) => deps.log.warn({ err: error }, "could not queue deliveries; the stranded-delivery sweep will"));
  }

  function start(delivery: NewDelivery, body: string) {
    const running: Promise<void> = attempt(delivery, body)
      .catch((error: unknown) => deps.log.warn({ err: error, webhookDeliveryId: delivery.webhookDeliveryId }, "first delivery attempt not recorded; the stranded-delivery sweep will retry"))
      .finally(() => {
        inFlight.delete(running);
        const next = waiting.shift();
        if (next) start(next.delivery, next.body);
      });
    inFlight.add(running);
  }

  return {
    dispatch(events, deliveries) {
      const bodies = new Map(events.map((e) => [e.id, JSON.stringify(e)]));
      const overflow: NewDelivery[] = [];
      for (const delivery of deliveries) {
        const body = bodies.get(delivery.eventId);
        if (body === undefined || waiting.length >= maxWaiting) overflow.push(delivery);
        else if (inFlight.size >= maxInFlight) waiting.push({ delivery, body });
        else start(delivery, body);
      }
      if (overflow.length > 0) enqueue(overflow);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await deps.recorder.idle();
    },
  };
}
