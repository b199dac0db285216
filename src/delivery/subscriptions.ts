// Subscriptions: creation (with a generated Standard Webhooks secret), listing, rotation, enable/disable.
import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Tx } from "../db/audit.js";
import type { Subscription } from "../generated/prisma/client.js";
import { isKnownEventPattern, validEventPatterns } from "../domain/events.js";
import { checkTarget, type TargetPolicy } from "./target-policy.js";

export const subscriptionInput = z.object({
  url: z.string().min(1).max(2048),
  eventTypes: z
    .array(z.string().refine(isKnownEventPattern, { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}; valid: ${validEventPatterns()}` }))
    .min(1)
    .max(100),
  description: z.string().max(500).optional(),
});

export type SubscriptionInput = z.infer<typeof subscriptionInput>;

/** `whsec_` + base64 of 32 random bytes, the format the standardwebhooks libraries expect. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** Where subscriptions are read and written: the Prisma client, or a transaction (with the audit row). */
export type SubscriptionStore = Pick<Tx, "subscription">;

export type CreateResult = { kind: "created"; subscription: Subscription } | { kind: "invalid_target"; reason: string };

export async function createSubscription(store: SubscriptionStore, policy: TargetPolicy, input: SubscriptionInput): Promise<CreateResult> {
  const target = await checkTarget(policy, input.url);
  if (!target.ok) return { kind: "invalid_target", reason: target.reason };
  const subscription = await store.subscription.create({
    data: {
      id: randomUUID(),
      url: input.url,
      eventTypes: [...new Set(input.eventTypes)],
      description: input.description ?? null,
      secret: generateSecret(),
    },
  });
  return { kind: "created", subscription };
}

/** The public view: never the secret after creation. */
export function subscriptionView(s: Subscription) {
  return {
    id: s.id,
    url: s.url,
    eventTypes: s.eventTypes,
    description: s.description,
    status: s.deletedAt ? "deleted" : s.status,
    disabledReason: s.disabledReason,
    disabledAt: s.disabledAt,
    failingSince: s.failingSince,
    consecutiveFailures: s.consecutiveFailures,
    secretRotatedUntil: s.previousSecretExpiresAt,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

export async function findSubscription(store: SubscriptionStore, id: string) {
  if (!z.uuid().safeParse(id).success) return null;
  return store.subscription.findFirst({ where: { id, deletedAt: null } });
}

/** The new secret signs from now on; the previous one also signs until the grace period ends. */
export async function rotateSecret(store: SubscriptionStore, id: string, graceMs: number) {
  const current = await findSubscription(store, id);
  if (!current) return null;
  const secret = generateSecret();
  const previousSecretExpiresAt = new Date(Date.now() + graceMs);
  const updated = await store.subscription.update({
    where: { id },
    data: { secret, previousSecret: current.secret, previousSecretExpiresAt },
  });
  return { subscription: updated, secret };
}

export async function setSubscriptionEnabled(store: SubscriptionStore, id: string, enabled: boolean) {
  const current = await findSubscription(store, id);
  if (!current) return null;
  return store.subscription.update({
    where: { id },
    data: enabled
      ? { status: "active", disabledReason: null, disabledAt: null, failingSince: null, consecutiveFailures: 0 }
      : { status: "disabled", disabledReason: "disabled by an operator", disabledAt: new Date() },
  });
}

export async function deleteSubscription(store: SubscriptionStore, id: string) {
  const current = await findSubscription(store, id);
  if (!current) return false;
  await store.subscription.update({ where: { id }, data: { deletedAt: new Date(), status: "disabled", disabledReason: "deleted" } });
  return true;
}
