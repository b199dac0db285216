import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Every metric the service exposes, on a registry of its own (no global state). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by route, method and status",
      labelNames: ["method", "route", "status"] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["method", "route"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    webhooksReceived: new Counter({
      name: "webhooks_received_total",
      help: "Inbound provider webhooks by outcome (accepted, duplicate, ignored, rejected, unauthorized, unavailable)",
      labelNames: ["provider", "outcome", "reason"] as const,
      registers,
    }),
    payloadWarnings: new Counter({
      name: "flovi_payload_warnings_total",
      help: "Side fields of accepted Flovi deliveries that could not be used as sent, by field and problem (the state was applied with a fallback)",
      labelNames: ["field", "problem"] as const,
      registers,
    }),
    jobsProcessed: new Counter({
      name: "jobs_processed_total",
      help: "Jobs finished by queue, job name and outcome",
      labelNames: ["queue", "job", "outcome"] as const,
      registers,
    }),
    jobDuration: new Histogram({
      name: "job_duration_seconds",
      help: "Job processing time by queue and job name",
      labelNames: ["queue", "job"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    queueJobs: new Gauge({
      name: "queue_jobs",
      help: "Jobs per queue and state",
      labelNames: ["queue", "state"] as const,
      registers,
    }),
    eventsEmitted: new Counter({
      name: "events_emitted_total",
      help: "Normalized events written to the outbox, by type",
      labelNames: ["type"] as const,
      registers,
    }),
    deliveries: new Counter({
      name: "webhook_deliveries_total",
      help: "Outbound webhook delivery attempts by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    polls: new Counter({
      name: "provider_polls_total",
      help: "Provider polls by provider and outcome",
      labelNames: ["provider", "outcome"] as const,
      registers,
    }),
    prunedRows: new Counter({
      name: "retention_pruned_rows_total",
      help: "Rows removed (or raw bodies dropped) by retention, by kind of data",
      labelNames: ["kind"] as const,
      registers,
    }),
    prunedBytes: new Counter({
      name: "retention_pruned_bytes_total",
      help: "Bytes removed by retention, by kind of data",
      labelNames: ["kind"] as const,
      registers,
    }),
    undocumentedStatuses: new Counter({
      name: "provider_undocumented_status_total",
      help: "Polls that saw a status word the provider's documentation does not define",
      labelNames: ["provider", "status"] as const,
      registers,
    }),
    deliveryAttempts: new Counter({
      name: "webhook_delivery_attempts_total",
      help: "Outbound webhook delivery attempts by subscription and outcome (succeeded, retry, throttled, failed)",
      labelNames: ["subscription_id", "outcome"] as const,
      registers,
    }),
    inboxOldestWaiting: new Gauge({
      name: "flovi_inbox_oldest_waiting_seconds",
      help: "Age of the oldest stored Flovi delivery not applied yet (0: none waiting)",
      registers,
    }),
    outboxOldestUnrelayed: new Gauge({
      name: "outbox_oldest_unrelayed_seconds",
      help: "Age of the oldest committed event without its log position or all its deliveries yet (0: none)",
      registers,
    }),
    subscriptions: new Gauge({ name: "subscriptions", help: "Subscriptions by status (active, paused, disabled)", labelNames: ["status"] as const, registers }),
    providerPaused: new Gauge({
      name: "provider_paused",
      help: "1 while every poll of the provider is paused (credentials refused, rate limited)",
      labelNames: ["provider"] as const,
      registers,
    }),
    pollsOverdue: new Gauge({
      name: "tracked_items_poll_overdue",
      help: "Active tracked items whose poll is more than 15 minutes late",
      labelNames: ["provider"] as const,
      registers,
    }),
    retentionOldest: new Gauge({
      name: "retention_oldest_row_age_seconds",
      help: "Age of the oldest row kept, by kind (events, inbound_deliveries)",
      labelNames: ["kind"] as const,
      registers,
    }),
    retentionHorizon: new Gauge({
      name: "retention_horizon_seconds",
      help: "How long retention keeps rows of this kind (RETENTION_*_MS)",
      labelNames: ["kind"] as const,
      registers,
    }),
    dependencyUp: new Gauge({
      name: "hub_dependency_up",
      help: "0 while this process has lost its connection to the dependency (redis, postgres), 1 once it is back (docs/operations.md)",
      labelNames: ["dependency"] as const,
      registers,
    }),
    ready: new Gauge({
      name: "hub_ready",
      help: "1 when this process can reach Postgres and Redis (what /readyz answers), 0 otherwise",
      labelNames: ["role"] as const,
      registers,
    }),
    eventSchemaViolations: new Counter({
      name: "event_schema_violations_total",
      help: "Events emitted that do not match their type's schema in the catalog (a bug in the hub: see the error log)",
      labelNames: ["type"] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
