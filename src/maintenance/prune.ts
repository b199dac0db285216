// The scheduled pruning job: every kind of data past its retention is removed in small batches, oldest
// first, paced by a duty cycle (after each batch it rests nineteen times as long as the batch took, so
// pruning uses a twentieth of one database backend) within a time budget per run, so the hot path never
// waits behind it. What it removed is counted in retention_pruned_rows_total / retention_pruned_bytes_total.
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import type { Database } from "../db/client.js";
import { pruneBatch, RETENTION_KINDS, type Pruned, type RetentionKind } from "../db/retention.js";
import type { Metrics } from "../observability/metrics.js";

export type RetentionSettings = Record<RetentionKind, number>;

export function retentionSettings(config: Config): RetentionSettings {
  return {
    inbound_bodies: config.RETENTION_INBOUND_BODY_MS,
    inbound_rows: config.RETENTION_INBOUND_ROW_MS,
    succeeded_deliveries: config.RETENTION_DELIVERIES_MS,
    failed_deliveries: config.RETENTION_FAILED_DELIVERIES_MS,
    events: config.RETENTION_EVENTS_MS,
    tracking: config.RETENTION_TRACKING_MS,
    audit: config.RETENTION_AUDIT_MS,
  };
}

/** Deliveries go before events (an event is pruned only once no delivery points at it). */
const ORDER: RetentionKind[] = ["inbound_bodies", "succeeded_deliveries", "failed_deliveries", "events", "inbound_rows", "tracking", "audit"];

export async function pruneAll(
  deps: { db: Database; log: Logger; metrics?: Metrics },
  settings: RetentionSettings,
  opts: {
    batchSize: number;
    /** Share of the time spent pruning (the rest resting between batches); 0.05 by default. */
    dutyCycle?: number;
    budgetMs?: number;
    now?: Date;
  },
): Promise<Record<RetentionKind, Pruned> & { complete: boolean }> {
  const now = opts.now ?? new Date();
  const deadline = Date.now() + (opts.budgetMs ?? 60_000);
  const totals = Object.fromEntries(RETENTION_KINDS.map((k) => [k, { rows: 0, bytes: 0 }])) as Record<RetentionKind, Pruned>;
  let complete = true;
  for (const kind of ORDER) {
    const cutoff = new Date(now.getTime() - settings[kind]);
    if (Date.now() > deadline) {
      complete = false;
      break;
    }
    for (;;) {
      if (Date.now() > deadline) {
        complete = false; // the next run goes on where this one stopped
        break;
      }
      const batchStarted = performance.now();
      const batch = await pruneBatch(deps.db, kind, cutoff, opts.batchSize);
      const batchMs = performance.now() - batchStarted;
      totals[kind].rows += batch.rows;
      totals[kind].bytes += batch.bytes;
      deps.metrics?.prunedRows.inc({ kind }, batch.rows);
      deps.metrics?.prunedBytes.inc({ kind }, batch.bytes);
      if (batch.rows < opts.batchSize) break;
      const duty = opts.dutyCycle ?? 0.05;
      if (duty < 1) await new Promise((r) => setTimeout(r, Math.max(10, (batchMs * (1 - duty)) / duty)));
    }
    if (!complete) break;
  }
  const removed = Object.entries(totals).filter(([, p]) => p.rows > 0);
  if (removed.length > 0) deps.log.info({ pruned: Object.fromEntries(removed), complete }, "retention pruned old data");
  return { ...totals, complete };
}
