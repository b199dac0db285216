// Subscriptions: creation (with a generated Standard Webhooks secret), listing, rotation, enable/disable.
import { randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Database } from "../db/client.js";
import type { Subscription } from "../generated/prisma/client.js";
import { checkTarget, type TargetPolicy } from "./target-policy.js";

const EVENT_TYPE_PATTERN = /^(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*))$/;

export const subscriptionInput = z.object({
  url: z.string().min(1).max(2048),
  eventTypes: z
    .array(z.string().regex(EVENT_TYPE_PATTERN, "an event type (reservation.sealed), a wildcard (reservation.*) or *"))
    .min(1)
    .max(100),
  description: z.string().max(500).optional(),
});

export type SubscriptionInput = z.infer<typeof subscriptionInput>;

/** `whsec_` + base64 of 32 random bytes, the format the standardwebhooks libraries expect. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export type CreateResult = { kind: "created"; subscription: Subscription } | { kind: "invalid_target"; reason: string };

export async function createSubscription(db: Database, policy: TargetPolicy, input: SubscriptionInput): Promise<CreateResult> {
  const target = await checkTarget(policy, input.url);
  if (!target.ok) return { kind: "invalid_target", reason: target.reason };
  const subscription = await db.prisma.subscription.create({
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

export async function findSubscription(db: Database, id: string) {
  if (!z.uuid().safeParse(id).success) return null;
  return db.prisma.subscription.findFirst({ where: { id, deletedAt: null } });
}

/** The new secret signs from now on; the previous one also signs until the grace period ends. */
export async function rotateSecret(db: Database, id: string, graceMs: number) {
  const current = await findSubscription(db, id);
  if (!current) return null;
  const secret = generateSecret();
  const previousSecretExpiresAt = new Date(Date.now() + graceMs);
  const updated = await db.prisma.subscription.update({
    where: { id },
    data: { secret, previousSecret: current.secret, previousSecretExpiresAt },
  });
  return { subscription: updated, secret };
}

export async function setSubscriptionEnabled(db: Database, id: string, enabled: boolean) {
  const current = await findSubscription(db, id);
  if (!current) return null;
  return db.prisma.subscription.update({
    where: { id },
    data: enabled
      ? { status: "active", disabledReason: null, disabledAt: null, failingSince: null, consecutiveFailures: 0 }
      : { status: "disabled", disabledReason: "disabled by an operator", disabledAt: new Date() },
  });
}

export async function deleteSubscription(db: Database, id: string) {
  const current = await findSubscription(db, id);
  if (!current) return false;
  await db.prisma.subscription.update({ where: { id }, data: { deletedAt: new Date(), status: "disabled", disabledReason: "deleted" } });
  return true;
}
