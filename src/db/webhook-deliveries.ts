// Webhook deliveries (one event to one subscription) and their attempts: what an attempt loads, what the
// sweeps and operators look for, and the re-send. Attempts themselves are recorded by db/delivery-attempts.ts.
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";

export interface DeliveryForAttempt {
  status: string;
  attempts: number;
  eventId: string;
  envelope: unknown;
  subscriptionId: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  subscriptionActive: boolean;
}

const LOAD = `
SELECT d.status, d.attempts, d.event_id AS "eventId", e.envelope, d.subscription_id AS "subscriptionId", s.url, s.secret,
       s.previous_secret AS "previousSecret", s.previous_secret_expires_at AS "previousSecretExpiresAt",
       (s.status = 'active' AND s.deleted_at IS NULL) AS "subscriptionActive"
  FROM webhook_deliveries d
  JOIN events e ON e.id = d.event_id
  JOIN subscriptions s ON s.id = d.subscription_id
 WHERE d.id = $1`;

/** The delivery, its event's envelope and its subscription's target, in one statement. */
export async function loadForAttempt(db: Database, webhookDeliveryId: string): Promise<DeliveryForAttempt | null> {
  const [row] = await onPool(db).query<DeliveryForAttempt>(LOAD, [webhookDeliveryId]);
  return row ?? null;
}

/** A delivery whose subscription was disabled or deleted meanwhile: failed, not attempted. */
export async function failForInactiveSubscription(db: Database, webhookDeliveryId: string): Promise<void> {
  await onPool(db).query(
    "UPDATE webhook_deliveries SET status = 'failed', last_error = 'subscription_disabled', completed_at = now(), updated_at = now() WHERE id = $1",
    [webhookDeliveryId],
  );
}

/** Pending deliveries whose attempt is overdue by `olderThanMs`: their job (or in-process attempt) was lost. */
export async function findStrandedDeliveries(db: Database, olderThanMs: number, limit: number): Promise<{ webhookDeliveryId: string; attempts: number }[]> {
  const overdue = new Date(Date.now() - olderThanMs);
  const rows = await db.prisma.webhookDelivery.findMany({
    where: { status: "pending", OR: [{ nextAttemptAt: null, createdAt: { lt: overdue } }, { nextAttemptAt: { lt: overdue } }] },
    select: { id: true, attempts: true },
    orderBy: { createdAt: "asc" },
    take: limit,
  });
  return rows.map((r) => ({ webhookDeliveryId: r.id, attempts: r.attempts }));
}

export interface DeliverySummary {
  id: string;
  eventId: string;
  subscriptionId: string;
  status: string;
  subscriptionActive: boolean;
}

export async function findDelivery(db: Database, webhookDeliveryId: string): Promise<DeliverySummary | null> {
  const [row] = await onPool(db).query<DeliverySummary>(
    `SELECT d.id, d.event_id AS "eventId", d.subscription_id AS "subscriptionId", d.status,
            (s.status = 'active' AND s.deleted_at IS NULL) AS "subscriptionActive"
       FROM webhook_deliveries d JOIN subscriptions s ON s.id = d.subscription_id
      WHERE d.id = $1::uuid`,
    [webhookDeliveryId],
  );
  return row ?? null;
}

/** Failed deliveries of a subscription created since `since`, oldest first (index: subscription, status, created_at). */
export async function failedDeliveryIdsSince(db: Database, subscriptionId: string, since: Date): Promise<string[]> {
  const rows = await db.prisma.webhookDelivery.findMany({
    where: { subscriptionId, status: "failed", createdAt: { gte: since } },
    select: { id: true },
    orderBy: { createdAt: "asc" },
  });
  return rows.map((r) => r.id);
}

/** A re-send: the deliveries are pending again, in the caller's transaction (with the audit row). */
export async function markPendingAgain(sql: Sql, webhookDeliveryIds: string[]): Promise<void> {
  await sql.query(
    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = NULL, completed_at = NULL, updated_at = now() WHERE id = ANY($1::uuid[])",
    [webhookDeliveryIds],
  );
}

export async function deliveryCounts(db: Database, subscriptionId: string): Promise<Record<string, number>> {
  const counts = await db.prisma.webhookDelivery.groupBy({ by: ["status"], where: { subscriptionId }, _count: true });
  return Object.fromEntries(counts.map((c) => [c.status, c._count]));
}

export interface AttemptView {
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
  attemptLog: AttemptView[];
}

const deliveryInclude = { attemptLog: { orderBy: { id: "asc" as const } }, event: { select: { type: true, subject: true } } };

function deliveryView(d: {
  id: string; eventId: string; subscriptionId: string; status: string; attempts: number; lastStatusCode: number | null; lastError: string | null;
  nextAttemptAt: Date | null; createdAt: Date; completedAt: Date | null; event: { type: string; subject: string };
  attemptLog: { attempt: number; attemptedAt: Date; durationMs: number; statusCode: number | null; error: string | null; responseExcerpt: string | null }[];
}): DeliveryView {
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
 * A subscription's deliveries, newest first, with their attempts. Keyset pagination on (created_at, id):
 * `before` is the last row of the previous page (index: subscription, status, created_at).
 */
export async function subscriptionDeliveries(
  db: Database,
  subscriptionId: string,
  opts: { status?: string; limit: number; before?: { createdAt: Date; id: string } },
): Promise<DeliveryView[]> {
  const rows = await db.prisma.webhookDelivery.findMany({
    where: {
      subscriptionId,
      ...(opts.status ? { status: opts.status } : {}),
      ...(opts.before ? { OR: [{ createdAt: { lt: opts.before.createdAt } }, { createdAt: opts.before.createdAt, id: { lt: opts.before.id } }] } : {}),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: opts.limit,
    include: deliveryInclude,
  });
  return rows.map(deliveryView);
}

/** Every delivery of these events, with attempts (index: the unique (event_id, subscription_id)). */
export async function deliveriesOfEvents(db: Database, eventIds: string[]): Promise<DeliveryView[]> {
  if (eventIds.length === 0) return [];
  const rows = await db.prisma.webhookDelivery.findMany({ where: { eventId: { in: eventIds } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], include: deliveryInclude });
  return rows.map(deliveryView);
}
