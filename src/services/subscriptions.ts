// Subscriptions: creation (with a generated Standard Webhooks secret), listing, rotation, enable/disable.
import { maskUrl } from "../lib/text.js";
import { maskHeaders } from "../domain/static-headers.js";
import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Logger } from "pino";
import { audited } from "../db/audit.js";
import type { Database } from "../db/client.js";
import { onPool, type Sql } from "../db/sql.js";
import { type DeliverySearch, deliveryCounts, subscriptionDeliveries } from "../db/webhook-deliveries.js";

export type { DeliverySearch };
import { laneStats } from "../db/delivery-lanes.js";
import { cancelWaiting, orderWaiting, releaseAllHeld } from "../db/lane-modes.js";
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
import { patternsOverlap } from "../domain/events.js";
import type { SubscriptionChange, SubscriptionInput } from "./subscription-input.js";
import { checkBrokerTarget, checkTarget, type TargetPolicy } from "../delivery/target-policy.js";
import { brokerOptions, destinationView } from "../domain/destinations.js";

export { subscriptionChange, subscriptionInput, type SubscriptionChange, type SubscriptionInput } from "./subscription-input.js";

/** `whsec_` + base64 of 32 random bytes, the format the standardwebhooks libraries expect. */
function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export type CreateResult =
  | { kind: "created"; subscription: Subscription }
  | { kind: "invalid_target"; reason: string }
  /** The URL already has a live subscription for some of these event types (its receiver holds one secret). */
  | { kind: "duplicate"; existing: Subscription };

/** `owner`: the consumer creating it (its duplicates are looked for among its own subscriptions only). */
async function createSubscription(
  sql: Sql,
  policy: TargetPolicy,
  input: SubscriptionInput,
  defaults: SubscriptionDefaults,
  owner: string | null,
): Promise<CreateResult> {
  const url = input.destination?.url ?? input.url!;
  const destination = brokerOptions(input.destination);
  const target = destination ? await checkBrokerTarget(policy, new URL(url)) : await checkTarget(policy, url);
  if (!target.ok) return { kind: "invalid_target", reason: target.reason };
  // Two endpoints at one URL would share one receiver and one secret; two publishes to one broker are fine.
  if (!input.allowDuplicate && !destination) {
    const existing = (await liveSubscriptionsWithUrl(sql, url)).find(
      (s) => (owner === null || s.consumerId === owner) && s.eventTypes.some((a) => input.eventTypes.some((b) => patternsOverlap(a, b))),
    );
    if (existing) return { kind: "duplicate", existing };
  }
  const subscription = await insertSubscription(sql, {
    id: randomUUID(),
    url,
    eventTypes: [...new Set(input.eventTypes)],
    description: input.description ?? null,
    secret: generateSecret(),
    ordering: input.ordering ?? "none",
    maxInFlight: input.maxInFlight ?? defaults.maxInFlight,
    rateLimitPerSecond: input.rateLimitPerSecond ?? null,
    consumerId: owner,
    headers: input.headers ?? {},
    filters: input.filters ?? [],
    destination,
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
  const { allowAuthorizationHeader: _, ...settings } = change;
  const updated = await updateSettings(sql, id, { ...settings, eventTypes: change.eventTypes ? [...new Set(change.eventTypes)] : undefined });
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
    /** A broker destination (credentials masked); null for an HTTP endpoint. */
    destination: destinationView(s),
    eventTypes: s.eventTypes,
    description: s.description,
    status: s.deletedAt ? "deleted" : s.status,
    ordering: s.ordering,
    maxInFlight: s.maxInFlight,
    rateLimitPerSecond: s.rateLimitPerSecond,
    // The names only: a value is the subscriber's credential.
    headers: maskHeaders(s.headers),
    filters: s.filters,
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt,
    failingSince: s.failingSince,
    consecutiveFailures: s.consecutiveFailures,
    secretRotatedUntil: s.previousSecretExpiresAt,
    consumerId: s.consumerId,
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
  owner: string | null = null,
): Promise<CreateResult> {
  return audited(deps.db, deps.log, async (sql) => {
    const created = await createSubscription(sql, deps.policy, input, deps.defaults, owner);
    const audit =
      created.kind === "created"
        ? auditOf(actor, "subscription.create", created.subscription.id, {
            url: maskUrl(created.subscription.url),
            destination: destinationView(created.subscription),
            eventTypes: input.eventTypes,
            ordering: created.subscription.ordering,
            maxInFlight: created.subscription.maxInFlight,
            rateLimitPerSecond: created.subscription.rateLimitPerSecond,
            headers: maskHeaders(created.subscription.headers),
            filters: created.subscription.filters,
          })
        : null;
    return { result: created, audit };
  });
}

export function change(deps: SubscriptionDeps, actor: string, id: string, input: SubscriptionChange) {
  return audited(deps.db, deps.log, async (sql) => {
    const changed = await changeSubscription(sql, id, input);
    return {
      result: changed?.after ?? null,
      audit: changed
        ? auditOf(actor, "subscription.update", id, { changed: { ...input, ...(input.headers ? { headers: maskHeaders(input.headers) } : {}) } })
        : null,
    };
  });
}

/** Whether a live subscription belongs to this consumer. */
export async function belongsTo(deps: Pick<SubscriptionDeps, "db">, id: string, consumerId: string): Promise<boolean> {
  return (await findSubscription(onPool(deps.db), id))?.consumerId === consumerId;
}

/** Every live subscription, or one consumer's. */
export function list(deps: Pick<SubscriptionDeps, "db">, owner?: string) {
  return listSubscriptions(deps.db, owner);
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

/** A subscription's deliveries searched (db/webhook-deliveries.ts), newest first, with attempts; null: no such subscription. */
export async function deliveries(deps: Pick<SubscriptionDeps, "db">, id: string, opts: DeliverySearch) {
  const subscription = await findSubscription(onPool(deps.db), id);
  if (!subscription) return null;
  return subscriptionDeliveries(deps.db, subscription.id, opts);
}
