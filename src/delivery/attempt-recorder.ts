// Records delivery attempts by group commit (lib/group-writer): attempts that finish together are written
// by one statement. After each batch, the disable rule runs on the subscriptions whose failure run grew.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { disableSubscription, recordAttempts, type AttemptRecord } from "../db/delivery-attempts.js";
import { createGroupWriter } from "../lib/group-commit.js";
import { disableReason, type AttemptDecision, type DeliverySettings } from "./decisions.js";

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
}): AttemptRecorder {
  const writer = createGroupWriter<{ record: AttemptRecord; decision: AttemptDecision }, void>(async (items) => {
    const runs = await recordAttempts(
      deps.db,
      items.map((i) => i.record),
    );
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
