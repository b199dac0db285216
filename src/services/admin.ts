// Operator actions, shared by the admin HTTP API and the admin CLI. Each returns an outcome the caller
// translates (HTTP status or exit code), and every mutating action writes an audit row.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { audited, listAudit, logAudit, writeAudit, type AuditEntry } from "../db/audit.js";
import { applyStoredDelivery } from "../pipeline/flovi/apply-stored.js";
import { listInbound as listInboundRows } from "../db/inbound-deliveries.js";
import { clearPause, providerPauses } from "../db/provider-state.js";
import { getSubscription } from "../db/subscriptions.js";
import { makeParkedDue, undocumentedStatusCounts } from "../db/tracked-items.js";
import { dueOutlook, failedDeliveryIdsSince, findDelivery, makeDueNow, markPendingAgain, sendWaitingNow } from "../db/webhook-deliveries.js";
import type { Config } from "../config/env.js";
import { providerStatus } from "../config/providers.js";
import type { Queues } from "../queues/queues.js";

export interface AdminDeps {
  db: Database;
  queues: Queues;
  log: Logger;
}

export type NotFound = { kind: "not_found"; what: string };

/** Re-processes a stored inbound delivery under the usual idempotency rules; an applied one stays applied. */
export async function replayWebhook(deps: AdminDeps, actor: string, inboundDeliveryId: string) {
  const entry = (result: { kind: string; outcome?: string }): AuditEntry => ({
    actor,
    action: "webhook.replay",
    target: inboundDeliveryId,
    details: { result: result.kind, outcome: result.outcome },
  });
  const result = await applyStoredDelivery({ db: deps.db }, inboundDeliveryId, {
    force: true,
    // Written in the replay's own transaction: the replay and its audit row commit together.
    audit: (sql, outcome) => writeAudit(sql, entry(outcome)),
  });
  if (result.kind === "not_found") return { kind: "not_found", what: `inbound delivery ${inboundDeliveryId}` } as const;
  // The replay's deliveries are due rows: the workers' delivery poll claims them.
  logAudit(deps.log, entry({ kind: result.kind, outcome: "outcome" in result ? result.outcome : undefined }));
  return {
    kind: "replayed",
    result: result.kind,
    ...(result.kind === "applied" ? { outcome: result.outcome, events: result.events.map((e) => e.id) } : {}),
    ...(result.kind === "already_done" ? { status: result.status, events: [] } : {}),
    ...(result.kind === "rejected" ? { reason: result.reason, events: [] } : {}),
  } as const;
}

/** Stored Flovi deliveries, newest first; `nextBefore` (their receipt time) asks for the page after, when this one is full. */
export async function inboundPage(deps: Pick<AdminDeps, "db">, opts: { status?: string; limit: number; before?: Date }) {
  const data = await listInboundRows(deps.db, opts);
  const last = data.at(-1);
  return { data, nextBefore: data.length === opts.limit && last ? last.receivedAt.toISOString() : null };
}

/**
 * Sends a delivery again; one waiting for its next attempt is sent now, one in flight or held (ordered mode) is
 * left as it is, and one already delivered only when `force` says so. The answer says what will really happen:
 * sent now, or waiting behind the delivery of its subject that goes first (ordered mode), or for a pause.
 */
/** `opts.subscriptionId`: only a delivery of that subscription (a consumer's scope); any other is not found. */
export async function retryDelivery(deps: AdminDeps, actor: string, webhookDeliveryId: string, opts: { force?: boolean; subscriptionId?: string } = {}) {
  const delivery = await findDelivery(deps.db, webhookDeliveryId);
  if (!delivery || (opts.subscriptionId !== undefined && delivery.subscriptionId !== opts.subscriptionId))
    return { kind: "not_found", what: `delivery ${webhookDeliveryId}` } as const;
  if (!delivery.subscriptionActive) return { kind: "subscription_inactive" } as const;
  if (delivery.inFlight) return { kind: "in_progress" } as const;
  if (delivery.status === "held") return { kind: "held" } as const;
  if (delivery.status === "succeeded" && !opts.force) return { kind: "already_delivered", deliveredAt: delivery.completedAt } as const;
  const details = { eventId: delivery.eventId, previousStatus: delivery.status, ...(opts.force ? { force: true } : {}) };
  const sendNow = delivery.status === "pending";
  const outlook = await audited(deps.db, deps.log, async (sql) => {
    const done = sendNow ? await makeDueNow(sql, webhookDeliveryId) : (await markPendingAgain(sql, [webhookDeliveryId])) > 0;
    const action = sendNow ? "delivery.send-now" : "delivery.retry";
    return { result: done ? await dueOutlook(sql, webhookDeliveryId) : null, audit: done ? { actor, action, target: webhookDeliveryId, details } : null };
  });
  if (!outlook) return { kind: "in_progress" } as const;
  return {
    kind: "queued",
    webhookDeliveryId,
    deliveryId: webhookDeliveryId,
    eventId: delivery.eventId,
    sendNow,
    attemptsBefore: delivery.attempts,
    outcome: outlook.kind,
    ...(outlook.kind === "behind" ? { behind: outlook.webhookDeliveryId } : {}),
    ...(outlook.kind === "paused" ? { pausedUntil: outlook.until } : {}),
  } as const;
}

/**
 * Waits (at most `ms`) for the attempt after `attemptsBefore` to be recorded, so that a person who pressed
 * "Send now" sees its outcome rather than the delivery still pending; the delivery as it stands then, or null
 * when no attempt was recorded in time.
 */
export async function awaitNextAttempt(deps: Pick<AdminDeps, "db">, webhookDeliveryId: string, attemptsBefore: number, ms: number) {
  const until = Date.now() + ms;
  for (;;) {
    const delivery = await findDelivery(deps.db, webhookDeliveryId);
    if (!delivery) return null;
    if (delivery.attempts > attemptsBefore && !delivery.inFlight) return delivery;
    if (Date.now() >= until) return null;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Svix's "recover": re-send every failed delivery of a subscription since a time; with `includePending`, also
 * send now the ones waiting for their next attempt (after fixing a receiver, nobody wants to wait the
 * schedule). The answer says what was done, and why the rest was not.
 */
export async function recoverSubscription(
  deps: AdminDeps,
  actor: string,
  subscriptionId: string,
  since: Date,
  // `includePendingName`: what the caller calls that option, for the note (the CLI's flag is --include-pending).
  opts: { includePending?: boolean; includePendingName?: string } = {},
) {
  // A malformed id names nothing; a database that is down is an error (a 5xx), never a "not found".
  const subscription = UUID.test(subscriptionId) ? await getSubscription(deps.db, subscriptionId) : null;
  if (!subscription) return { kind: "not_found", what: `subscription ${subscriptionId}` } as const;
  if (subscription.status !== "active") return { kind: "subscription_inactive" } as const;
  const failed = await failedDeliveryIdsSince(deps.db, subscriptionId, since);
  const waiting = await audited(deps.db, deps.log, async (sql) => {
    await markPendingAgain(sql, failed);
    const pending = opts.includePending ? await sendWaitingNow(sql, subscriptionId, since) : { sentNow: 0, inFlight: 0 };
    return {
      result: pending,
      audit: {
        actor,
        action: "subscription.recover",
        target: subscriptionId,
        details: { since: since.toISOString(), requeued: failed.length, sentNow: pending.sentNow, includePending: opts.includePending ?? false },
      },
    };
  });
  const notes = [
    ...(failed.length === 0 ? [`no failed deliveries since ${since.toISOString()}`] : []),
    ...(!opts.includePending
      ? [`deliveries waiting for their next attempt keep their schedule (with ${opts.includePendingName ?? "includePending"} they are sent now)`]
      : []),
    ...(waiting.inFlight > 0 ? [`${waiting.inFlight} in flight right now: their outcome decides what comes next`] : []),
  ];
  return { kind: "queued", requeued: failed.length, sentNow: waiting.sentNow, inFlight: waiting.inFlight, notes } as const;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const POLLED_PROVIDERS = ["mfb", "greenflow"] as const;
type PolledProvider = (typeof POLLED_PROVIDERS)[number];

/** Ends a provider-wide pause (after a 401) once the credentials are fixed, instead of waiting it out. */
export async function resumeProviderPolling(deps: Pick<AdminDeps, "db" | "log">, actor: string, provider: string) {
  if (!(POLLED_PROVIDERS as readonly string[]).includes(provider)) return { kind: "not_found", what: `provider ${provider}` } as const;
  const rescheduled = await audited(deps.db, deps.log, async (sql) => {
    const pausedUntil = await clearPause(sql, provider);
    // Items parked until the pause's end are due again now.
    const count = await makeParkedDue(sql, provider as PolledProvider);
    return {
      result: count,
      audit: { actor, action: "provider.resume", target: provider, details: { pausedUntil: pausedUntil?.toISOString() ?? null, rescheduled: count } },
    };
  });
  return { kind: "resumed", provider, rescheduled } as const;
}

/**
 * Each polled provider: enabled (as this process is configured; run api and worker with the same provider
 * settings), paused until when and why, and GreenFlow's undocumented statuses.
 */
export async function providersOverview(deps: Pick<AdminDeps, "db">, config: Config) {
  const [pauses, undocumented] = await Promise.all([providerPauses(deps.db), undocumentedStatusCounts(deps.db)]);
  const statuses = providerStatus(config);
  return POLLED_PROVIDERS.map((provider) => {
    const row = pauses.find((r) => r.provider === provider);
    const paused = row?.pausedUntil && row.pausedUntil > new Date();
    const status = statuses.find((s) => s.provider === provider)!;
    return {
      provider,
      enabled: status.enabled,
      why: status.why,
      paused: Boolean(paused),
      pausedUntil: paused ? row!.pausedUntil : null,
      pauseReason: paused ? row!.pauseReason : null,
      ...(provider === "greenflow" ? { undocumentedStatuses: undocumented } : {}),
    };
  });
}

/** The audit log, newest first; `nextStart` asks for the page after, when this one is full. */
export async function auditPage(deps: Pick<AdminDeps, "db">, opts: { start?: number; limit: number }) {
  const rows = await listAudit(deps.db, opts);
  const data = rows.map((r) => ({ id: r.id.toString(), actor: r.actor, action: r.action, target: r.target, details: r.details, createdAt: r.createdAt }));
  return { data, nextStart: data.length === opts.limit ? (opts.start ?? 0) + data.length : null };
}
