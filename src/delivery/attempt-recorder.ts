// Records delivery attempts by group commit (lib/group-writer): attempts that finish together are written
// by one statement, which also hands the slots they free to their lanes' next deliveries when the pump says
// so (its handover). After each batch, the disable rule runs on the subscriptions whose failure run grew.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { recordAttempts, type AttemptRecord } from "../db/delivery-attempts.js";
import { disableSubscription } from "../db/failure-runs.js";
import { createGroupWriter } from "../lib/group-commit.js";
import { disableReason, type AttemptDecision, type DeliverySettings } from "./decisions.js";
import type { SlotHandover } from "./pump-types.js";

export interface FailedDelivery {
  webhookDeliveryId: string;
  subscriptionId: string;
  attempt: number;
  reason: string;
}

export interface AttemptRecorder {
  /** Resolves once the attempt's row is committed. */
  record(record: AttemptRecord, decision: AttemptDecision): Promise<void>;
  idle(): Promise<void>;
}

export function createAttemptRecorder(deps: {
  db: Database;
  log: Logger;
  settings: DeliverySettings;
  /** Deliveries that failed for good, once recorded (the worker parks them where operators replay from). */
  onFailed?: (failed: FailedDelivery[]) => void;
  /**
   * Deliveries that succeeded after their schedule started over (a re-send: they may have been parked), once
   * recorded: the worker removes their parked jobs.
   */
  onResentDelivered?: (delivered: { webhookDeliveryId: string; attempt: number }[]) => void;
  /** The pump's handover (built after the recorder, hence a function); none: every freed slot is freed. */
  handover?: () => SlotHandover | undefined;
}): AttemptRecorder {
  const writer = createGroupWriter<{ record: AttemptRecord; decision: AttemptDecision }, void>(async (items) => {
    const handover = deps.handover?.();
    const asked = handover?.plan(items.map((i) => ({ subscriptionId: i.record.subscriptionId, succeeded: i.decision.kind === "delivered" })));
    const { runs, handedOver } = await recordAttempts(
      deps.db,
      items.map((i) => i.record),
      asked,
    );
    // Started before the batch's own attempts end: they hold their lanes' room until then.
    if (asked) handover!.started(handedOver);
    const now = new Date();
    for (const run of runs) {
      const gone = items.some((i) => i.record.subscriptionId === run.id && i.decision.kind === "failed" && i.decision.gone);
      const reason = disableReason(run, gone, deps.settings, now);
      if (reason && (await disableSubscription(deps.db, run.id, reason, now))) {
        deps.log.warn({ subscriptionId: run.id, reason }, "subscription disabled");
      }
    }
    const failed = items.flatMap(({ record, decision }) =>
      decision.kind === "failed"
        ? [{ webhookDeliveryId: record.webhookDeliveryId, subscriptionId: record.subscriptionId, attempt: record.attempt, reason: decision.reason }]
        : [],
    );
    if (failed.length > 0) deps.onFailed?.(failed);
    // More attempts than steps of its current schedule: the schedule started over (or 429s came between).
    const resent = items.filter(({ record, decision }) => decision.kind === "delivered" && record.attempt > record.scheduleStep);
    if (resent.length > 0) deps.onResentDelivered?.(resent.map(({ record }) => ({ webhookDeliveryId: record.webhookDeliveryId, attempt: record.attempt })));
    return items.map(() => undefined);
  });
  return {
    record: (record, decision) => writer.write({ record, decision }),
    idle: writer.idle,
  };
}
