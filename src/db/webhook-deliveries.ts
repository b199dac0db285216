// Webhook deliveries (one event to one subscription) and their attempts: what an attempt loads, what the
// sweeps and operators look for, and the re-send. Attempts themselves are recorded by db/delivery-attempts.ts.
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";
import { prismaOf } from "./clients.js";

export interface DeliverySummary {
  id: string;
  eventId: string;
  subscriptionId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  /** When it was delivered, failed for good or cancelled. */
  completedAt: Date | null;
  /** An attempt is under way (in some worker process). */
  inFlight: boolean;
  subscriptionActive: boolean;
}

export async function findDelivery(db: Database, webhookDeliveryId: string): Promise<DeliverySummary | null> {
  const [row] = await onPool(db).query<DeliverySummary>(
    `SELECT d.id, d.event_id AS "eventId", d.subscription_id AS "subscriptionId", d.status, d.attempts,
            d.last_status_code AS "lastStatusCode", d.last_error AS "lastError", d.next_attempt_at AS "nextAttemptAt", d.completed_at AS "completedAt", COALESCE(d.leased_until > now(), false) AS "inFlight",
            (s.status = 'active' AND s.deleted_at IS NULL) AS "subscriptionActive"
       FROM webhook_deliveries d JOIN subscriptions s ON s.id = d.subscription_id
      WHERE d.id = $1::uuid`,
    [webhookDeliveryId],
  );
  return row ?? null;
}

/** Failed deliveries of a subscription created since `since`, oldest first (index: subscription, status, created_at). */
export async function failedDeliveryIdsSince(db: Database, subscriptionId: string, since: Date): Promise<string[]> {
  const rows = await prismaOf(db).webhookDelivery.findMany({
    where: { subscriptionId, status: "failed", createdAt: { gte: since } },
    select: { id: true },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((r) => r.id);
}

/** Due now, schedule from the start, subject and position filled in (rows older than ordered mode lack them). */
const resend = (fromStatuses: string) => `
UPDATE webhook_deliveries d
   SET status = 'pending', next_attempt_at = now(), schedule_step = 0, schedule_started_at = now(), completed_at = NULL,
       subject = CASE WHEN s.ordering = 'subject' THEN e.subject END, position = e.position, updated_at = now()
  FROM events e, subscriptions s
 WHERE s.id = d.subscription_id AND d.id = ANY($1::uuid[]) AND e.id = d.event_id AND d.status IN (${fromStatuses})
RETURNING d.id`;

/**
 * A re-send, in the caller's transaction (with the audit row): the deliveries are due now and their retry
 * schedule starts over. In ordered mode the claim still sends a subject's deliveries one at a time, the
 * re-sent (older) one first (docs/delivery.md).
 */
export async function markPendingAgain(sql: Sql, webhookDeliveryIds: string[]): Promise<number> {
  return (await sql.query(resend("'succeeded', 'failed', 'cancelled'"), [webhookDeliveryIds])).length;
}

/** An operator retried a parked delivery job: the delivery is sent again if it is still failed. */
export async function resendFailed(db: Database, webhookDeliveryIds: string[]): Promise<number> {
  return (await onPool(db).query(resend("'failed'"), [webhookDeliveryIds])).length;
}

/** What a delivery due now will wait for before it goes out, if anything. */
export type DueOutlook = { kind: "sent_now" } | { kind: "behind"; webhookDeliveryId: string } | { kind: "paused"; until: Date };

/**
 * What a due delivery waits for: in ordered mode the unfinished delivery of its subject that goes first (an
 * earlier one, or one in flight), or a pause its subscriber asked for (429); otherwise nothing.
 */
export async function dueOutlook(sql: Sql, webhookDeliveryId: string): Promise<DueOutlook> {
  const [row] = await sql.query<{ behind: string | null; paused_until: Date | null }>(
    `SELECT (SELECT o.id FROM webhook_deliveries o
              WHERE s.ordering = 'subject' AND o.subscription_id = d.subscription_id AND o.subject = d.subject AND o.id <> d.id
                AND o.status IN ('pending', 'held') AND (o.position < d.position OR o.leased_until > now())
              ORDER BY o.leased_until > now() DESC, o.position LIMIT 1) AS behind,
            CASE WHEN s.paused_until > now() THEN s.paused_until END AS paused_until
       FROM webhook_deliveries d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`,
    [webhookDeliveryId],
  );
  if (row?.behind) return { kind: "behind", webhookDeliveryId: row.behind };
  if (row?.paused_until) return { kind: "paused", until: row.paused_until };
  return { kind: "sent_now" };
}

/** A delivery waiting for its next attempt is due now (in the caller's transaction); false when it is not waiting. */
export async function makeDueNow(sql: Sql, webhookDeliveryId: string): Promise<boolean> {
  const rows = await sql.query(
    `UPDATE webhook_deliveries SET next_attempt_at = now(), updated_at = now()
      WHERE id = $1 AND status = 'pending' AND (leased_until IS NULL OR leased_until <= now()) RETURNING id`,
    [webhookDeliveryId],
  );
  return rows.length > 0;
}

/**
 * A subscription's deliveries waiting for their next attempt since a time, made due now (in the caller's
 * transaction); with how many were left as they are because an attempt is in flight.
 */
export async function sendWaitingNow(sql: Sql, subscriptionId: string, since: Date): Promise<{ sentNow: number; inFlight: number }> {
  const [row] = await sql.query<{ sent_now: number; in_flight: number }>(
    `WITH due AS (
       UPDATE webhook_deliveries SET next_attempt_at = now(), updated_at = now()
        WHERE subscription_id = $1 AND status = 'pending' AND created_at >= $2 AND next_attempt_at > now()
          AND (leased_until IS NULL OR leased_until <= now())
       RETURNING 1)
     SELECT (SELECT count(*)::int FROM due) AS sent_now,
            (SELECT count(*)::int FROM webhook_deliveries
                WHERE subscription_id = $1 AND status = 'pending' AND created_at >= $2 AND leased_until > now()) AS in_flight`,
    [subscriptionId, since],
  );
  return { sentNow: row?.sent_now ?? 0, inFlight: row?.in_flight ?? 0 };
}

export async function deliveryCounts(db: Database, subscriptionId: string): Promise<Record<string, number>> {
  const counts = await prismaOf(db).webhookDelivery.groupBy({ by: ["status"], where: { subscriptionId }, _count: true });
  return Object.fromEntries(counts.map((c) => [c.status, c._count]));
}

interface AttemptView {
  attempt: number;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: string;
  subject: string;
  subscriptionId: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  completedAt: Date | null;
  /** The replay it belongs to (docs/delivery.md, "Replaying a window"); null: the event's first delivery. */
  replayId: string | null;
  attemptLog: AttemptView[];
}

const deliveryInclude = { attemptLog: { orderBy: { id: "asc" as const } }, event: { select: { type: true, subject: true } } };

/** A delivery row as Prisma reads it with `deliveryInclude`: its event's type and subject nested, attempts with every column. */
type DeliveryRow = Omit<DeliveryView, "eventType" | "subject" | "attemptLog"> & {
  event: { type: string; subject: string };
  attemptLog: AttemptView[];
};

// Field by field: a row has columns (its lease token, log position) that never belong in the view.
function deliveryView(d: DeliveryRow): DeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.event.type,
    subject: d.event.subject,
    subscriptionId: d.subscriptionId,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    nextAttemptAt: d.nextAttemptAt,
    createdAt: d.createdAt,
    completedAt: d.completedAt,
    replayId: d.replayId,
    attemptLog: d.attemptLog.map((a) => ({
      attempt: a.attempt,
      attemptedAt: a.attemptedAt,
      durationMs: a.durationMs,
      statusCode: a.statusCode,
      error: a.error,
      responseExcerpt: a.responseExcerpt,
    })),
  };
}

/**
 * What a subscription's deliveries are searched by; every field but the page size may be left out. Times bound
 * when the delivery was made (`since` inclusive, `until` exclusive); `responseStatus` is the answer its latest
 * attempt got; `type` is an event type, `entity.*` or `*`; `before` is the last row of the previous page.
 */
export interface DeliverySearch {
  status?: string;
  since?: Date;
  until?: Date;
  responseStatus?: number;
  type?: string;
  subject?: string;
  limit: number;
  before?: { createdAt: Date; id: string };
}

const typeFilter = (pattern: string) => (pattern === "*" ? {} : pattern.endsWith(".*") ? { type: { startsWith: pattern.slice(0, -1) } } : { type: pattern });

/**
 * A subscription's deliveries, newest first, with their attempts. Keyset pagination on (created_at, id)
 * (index: subscription, status, created_at); the event's type and subject through its primary key.
 */
export async function subscriptionDeliveries(db: Database, subscriptionId: string, opts: DeliverySearch): Promise<DeliveryView[]> {
  const { before } = opts;
  const rows = await prismaOf(db).webhookDelivery.findMany({
    where: {
      subscriptionId,
      ...(opts.status ? { status: opts.status } : {}),
      ...(opts.responseStatus !== undefined ? { lastStatusCode: opts.responseStatus } : {}),
      ...(opts.type || opts.subject ? { event: { ...(opts.type ? typeFilter(opts.type) : {}), ...(opts.subject ? { subject: opts.subject } : {}) } } : {}),
      AND: [
        opts.since ? { createdAt: { gte: opts.since } } : {},
        opts.until ? { createdAt: { lt: opts.until } } : {},
        before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {},
      ],
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: opts.limit,
    include: deliveryInclude,
  });
  return rows.map(deliveryView);
}

/** Every delivery of these events, with attempts (index: the unique (event_id, subscription_id, replay_id)). */
export async function deliveriesOfEvents(db: Database, eventIds: string[]): Promise<DeliveryView[]> {
  if (eventIds.length === 0) return [];
  const rows = await prismaOf(db).webhookDelivery.findMany({
    where: { eventId: { in: eventIds } },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    include: deliveryInclude,
  });
  return rows.map(deliveryView);
}

/** One delivery with every attempt (null when unknown). */
export async function deliveryWithAttempts(db: Database, webhookDeliveryId: string): Promise<DeliveryView | null> {
  const row = await prismaOf(db).webhookDelivery.findUnique({ where: { id: webhookDeliveryId }, include: deliveryInclude });
  return row ? deliveryView(row) : null;
}
