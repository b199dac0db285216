// Subscriptions: creation (with a generated Standard Webhooks secret), listing, rotation, enable/disable.
import { maskUrl } from "../lib/text.js";
import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Logger } from "pino";
import { audited } from "../db/audit.js";
import type { Database } from "../db/client.js";
import { onPool, type Sql } from "../db/sql.js";
import { deliveryCounts, subscriptionDeliveries } from "../db/webhook-deliveries.js";
import { cancelWaiting, laneStats, orderWaiting, releaseAllHeld } from "../db/delivery-lanes.js";
import {
  findLiveSubscription,
  insertSubscription,
  listSubscriptions,
  liveSubscriptionsWithUrl,
  markDeleted,
  updateEnabled,
  updateSecret,
  updateSettings,
  type Subscription,
} from "../db/subscriptions.js";
import { isKnownEventPattern, patternsOverlap, validEventPatterns } from "../domain/events.js";
import { checkTarget, type TargetPolicy } from "../delivery/target-policy.js";
import { MAX_IN_FLIGHT, RATE_LIMIT } from "../domain/subscription-limits.js";

const eventTypes = z
  .array(z.string().refine(isKnownEventPattern, { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}; valid: ${validEventPatterns()}` }))
  .min(1)
  .max(100);

/** The fields a subscription's owner sets (docs/delivery.md); limits default to the documented values. */
const settingsShape = {
  description: z.string().max(500).nullable().optional(),
  eventTypes,
  /** "subject": one event of a subject at a time, in event-log order. */
  ordering: z.enum(["none", "subject"]).optional(),
  /** Requests in flight to the endpoint at most, across every worker process. */
  maxInFlight: z.number().int().min(MAX_IN_FLIGHT.min).max(MAX_IN_FLIGHT.max).optional(),
  /** Requests per second at most (0.001, one per 1,000 s, to 10,000); null for no limit. */
  rateLimitPerSecond: z
    .number({ error: `must be a number of requests per second from ${RATE_LIMIT.min} to ${RATE_LIMIT.max}, or null for no limit` })
    .min(RATE_LIMIT.min, `must be at least ${RATE_LIMIT.min} requests per second (one per 1,000 s) and at most ${RATE_LIMIT.max}, or null for no limit`)
    .max(RATE_LIMIT.max, `must be at most ${RATE_LIMIT.max} requests per second and at least ${RATE_LIMIT.min}, or null for no limit`)
    .nullable()
    .optional(),
};

/** An unknown field is refused with the allowed ones listed: a typo must never pass silently. */
const strict = <S extends z.ZodRawShape>(shape: S) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}; allowed: ${Object.keys(shape).join(", ")}`
        : undefined,
  });

export const subscriptionInput = strict({
  url: z.string().min(1).max(2048),
  ...settingsShape,
  /** A second endpoint on a URL that already has one for overlapping event types is refused unless this is true. */
  allowDuplicate: z.boolean().optional(),
});
export const subscriptionChange = strict({ ...settingsShape, eventTypes: eventTypes.optional() }).refine((v) => Object.keys(v).length > 0, {
  error: `name at least one field to change: ${Object.keys(settingsShape).join(", ")}`,
});

export type SubscriptionInput = z.infer<typeof subscriptionInput>;
export type SubscriptionChange = z.infer<typeof subscriptionChange>;

/** `whsec_` + base64 of 32 random bytes, the format the standardwebhooks libraries expect. */
function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export type CreateResult =
  | { kind: "created"; subscription: Subscription }
  | { kind: "invalid_target"; reason: string }
  /** The URL already has a live subscription for some of these event types (its receiver holds one secret). */
  | { kind: "duplicate"; existing: Subscription };

async function createSubscription(sql: Sql, policy: TargetPolicy, input: SubscriptionInput, defaults: SubscriptionDefaults): Promise<CreateResult> {
  const target = await checkTarget(policy, input.url);
  if (!target.ok) return { kind: "invalid_target", reason: target.reason };
  if (!input.allowDuplicate) {
    const existing = (await liveSubscriptionsWithUrl(sql, input.url)).find((s) =>
      s.eventTypes.some((a) => input.eventTypes.some((b) => patternsOverlap(a, b))),
    );
    if (existing) return { kind: "duplicate", existing };
  }
  const subscription = await insertSubscription(sql, {
    id: randomUUID(),
    url: input.url,
    eventTypes: [...new Set(input.eventTypes)],
    description: input.description ?? null,
    secret: generateSecret(),
    ordering: input.ordering ?? "none",
    maxInFlight: input.maxInFlight ?? defaults.maxInFlight,
    rateLimitPerSecond: input.rateLimitPerSecond ?? null,
  });
  return { kind: "created", subscription };
}

export interface SubscriptionDefaults {
  /** DELIVERY_DEFAULT_MAX_IN_FLIGHT */
  maxInFlight: number;
}

/** Changes a subscription's settings; entering ordered mode orders what waits, leaving it releases what it held. Null when unknown. */
async function changeSubscription(sql: Sql, id: string, change: SubscriptionChange) {
  const current = await findSubscription(sql, id, true);
  if (!current) return null;
  const updated = await updateSettings(sql, id, { ...change, eventTypes: change.eventTypes ? [...new Set(change.eventTypes)] : undefined });
  if (current.ordering === "subject" && updated.ordering === "none") await releaseAllHeld(sql, id);
  if (current.ordering === "none" && updated.ordering === "subject") await orderWaiting(sql, id);
  return { before: current, after: updated };
}

/** The public view: never the secret after creation. */
export function subscriptionView(s: Subscription) {
  return {
    id: s.id,
    // Query values masked (they may carry the receiver's token); deliveries use the URL as given.
    url: maskUrl(s.url),
    eventTypes: s.eventTypes,
    description: s.description,
    status: s.deletedAt ? "deleted" : s.status,
    ordering: s.ordering,
    maxInFlight: s.maxInFlight,
    rateLimitPerSecond: s.rateLimitPerSecond,
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt,
    failingSince: s.failingSince,
    consecutiveFailures: s.consecutiveFailures,
    secretRotatedUntil: s.previousSecretExpiresAt,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** A live subscription by id; null for an unknown or malformed id. Locked when `forUpdate` (inside a change). */
export async function findSubscription(sql: Sql, id: string, forUpdate = false) {
  if (!z.uuid().safeParse(id).success) return null;
  return findLiveSubscription(sql, id, forUpdate);
}

/** The new secret signs from now on; the previous one also signs until the grace period ends. */
async function rotateSecret(sql: Sql, id: string, graceMs: number) {
  const current = await findSubscription(sql, id, true);
  if (!current) return null;
  const secret = generateSecret();
  const subscription = await updateSecret(sql, id, secret, current.secret, new Date(Date.now() + graceMs));
  return { subscription, secret };
}

async function setSubscriptionEnabled(sql: Sql, id: string, enabled: boolean) {
  const current = await findSubscription(sql, id, true);
  if (!current) return null;
  return updateEnabled(sql, id, enabled);
}

async function deleteSubscription(sql: Sql, id: string) {
  const current = await findSubscription(sql, id, true);
  if (!current) return false;
  await markDeleted(sql, id);
  await cancelWaiting(sql, id);
  return true;
}

// --- the service the management API and the console call: each change commits with its audit row -------

export interface SubscriptionDeps {
  db: Database;
  log: Logger;
}

const auditOf = (actor: string, action: string, target: string, details: Record<string, unknown> = {}) => ({ actor, action, target, details });

export function create(
  deps: SubscriptionDeps & { policy: TargetPolicy; defaults: SubscriptionDefaults },
  actor: string,
  input: SubscriptionInput,
): Promise<CreateResult> {
  return audited(deps.db, deps.log, async (sql) => {
    const created = await createSubscription(sql, deps.policy, input, deps.defaults);
    const audit =
      created.kind === "created"
        ? auditOf(actor, "subscription.create", created.subscription.id, {
            url: maskUrl(input.url),
            eventTypes: input.eventTypes,
            ordering: created.subscription.ordering,
            maxInFlight: created.subscription.maxInFlight,
            rateLimitPerSecond: created.subscription.rateLimitPerSecond,
          })
        : null;
    return { result: created, audit };
  });
}

export function change(deps: SubscriptionDeps, actor: string, id: string, input: SubscriptionChange) {
  return audited(deps.db, deps.log, async (sql) => {
    const changed = await changeSubscription(sql, id, input);
    return { result: changed?.after ?? null, audit: changed ? auditOf(actor, "subscription.update", id, { changed: input }) : null };
  });
}

export function list(deps: Pick<SubscriptionDeps, "db">) {
  return listSubscriptions(deps.db);
}

/** One subscription with its delivery counts by status and its lane's backlog; null when unknown. */
export async function detail(deps: Pick<SubscriptionDeps, "db">, id: string) {
  const subscription = await findSubscription(onPool(deps.db), id);
  if (!subscription) return null;
  const [counts, lane] = await Promise.all([deliveryCounts(deps.db, subscription.id), laneStats(deps.db, subscription.id)]);
  return { subscription, counts, lane };
}

export function remove(deps: SubscriptionDeps, actor: string, id: string): Promise<boolean> {
  return audited(deps.db, deps.log, async (sql) => {
    const done = await deleteSubscription(sql, id);
    return { result: done, audit: done ? auditOf(actor, "subscription.delete", id) : null };
  });
}

export function rotate(deps: SubscriptionDeps, actor: string, id: string, graceMs: number) {
  return audited(deps.db, deps.log, async (sql) => {
    const done = await rotateSecret(sql, id, graceMs);
    return { result: done, audit: done ? auditOf(actor, "subscription.rotate-secret", id) : null };
  });
}

export function setEnabled(deps: SubscriptionDeps, actor: string, id: string, enabled: boolean) {
  return audited(deps.db, deps.log, async (sql) => {
    const done = await setSubscriptionEnabled(sql, id, enabled);
    return { result: done, audit: done ? auditOf(actor, `subscription.${enabled ? "enable" : "disable"}`, id) : null };
  });
}

/** A subscription's deliveries, newest first, with attempts; `before` continues a page (keyset). */
export async function deliveries(
  deps: Pick<SubscriptionDeps, "db">,
  id: string,
  opts: { status?: string; limit: number; before?: { createdAt: Date; id: string } },
) {
  const subscription = await findSubscription(onPool(deps.db), id);
  if (!subscription) return null;
  return subscriptionDeliveries(deps.db, subscription.id, opts);
}
