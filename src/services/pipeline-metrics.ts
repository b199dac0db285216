// What the alerting rules watch that only the database knows (db/pipeline-gauges.ts), set on the scrape's
// gauges: inbox and outbox age, subscriptions by status, paused providers, overdue polls, retention.
import type { Config } from "../config/env.js";
import type { Database } from "../db/client.js";
import { pipelineGauges } from "../db/pipeline-gauges.js";
import type { Metrics } from "../observability/metrics.js";
import { backlogRoom } from "../config/delivery-env.js";

/** A poll this late (past the sweep's 10-minute lease) is overdue. */
const POLL_OVERDUE_SECONDS = 15 * 60;

export type GaugeConfig = Pick<
  Config,
  "FLOVI_WEBHOOK_SECRET" | "RETENTION_EVENTS_MS" | "RETENTION_INBOUND_ROW_MS" | "DELIVERY_DESTINATION_MAX_IN_FLIGHT" | "DELIVERY_DESTINATION_LIMITS"
>;

export async function recordPipelineMetrics(db: Database, metrics: Metrics, config: GaugeConfig): Promise<void> {
  const g = await pipelineGauges(db, POLL_OVERDUE_SECONDS, backlogRoom(config));
  metrics.inboxOldestWaiting.set(g.inboxOldestWaitingSeconds);
  metrics.outboxOldestUnrelayed.set(g.outboxOldestUnrelayedSeconds);
  metrics.subscriptions.reset();
  for (const status of ["active", "paused", "disabled"]) metrics.subscriptions.set({ status }, 0);
  for (const s of g.subscriptions) metrics.subscriptions.set({ status: s.status }, s.count);
  for (const provider of ["mfb", "greenflow", "flovi-api"]) metrics.providerPaused.set({ provider }, g.pausedProviders.includes(provider) ? 1 : 0);
  for (const o of g.overduePolls) metrics.pollsOverdue.set({ provider: o.provider }, o.count);
  metrics.retentionOldest.set({ kind: "events" }, g.oldestEventAgeSeconds);
  metrics.retentionOldest.set({ kind: "inbound_deliveries" }, g.oldestInboundAgeSeconds);
  metrics.retentionHorizon.set({ kind: "events" }, config.RETENTION_EVENTS_MS / 1000);
  metrics.retentionHorizon.set({ kind: "inbound_deliveries" }, config.RETENTION_INBOUND_ROW_MS / 1000);
}
