// Consumers (docs/security.md, "Consumers"): downstream services that serve themselves. An admin creates one
// with the event types it may use; its tokens open its own subscriptions and the event log of those types.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { audited } from "../db/audit.js";
import type { Database } from "../db/client.js";
import { deleteConsumer, findLiveConsumer, insertConsumer, listConsumers, updateConsumer, type ConsumerRow } from "../db/consumers.js";
import { listApiTokens, revokeApiToken } from "../db/api-tokens.js";
import { isKnownEventPattern, validEventPatterns } from "../domain/events.js";
import { issueToken, tokenView } from "./tokens.js";

export { ConsumerNameTaken } from "../db/consumers.js";

export interface ConsumerDeps {
  db: Database;
  log: Logger;
}

const name = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[\p{L}\p{N} ._@-]+$/u, "letters, digits, spaces and . _ @ - only");
const eventTypes = z
  .array(z.string().refine(isKnownEventPattern, { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}; valid: ${validEventPatterns()}` }))
  .min(1)
  .max(100);

export const newConsumerInput = z.object({ name, eventTypes }).strict();
export const consumerChange = z
  .object({ name: name.optional(), eventTypes: eventTypes.optional() })
  .strict()
  .refine((v) => v.name !== undefined || v.eventTypes !== undefined, { error: "name at least one field to change: name, eventTypes" });
export const newConsumerToken = z.object({ expiresInDays: z.number().int().min(1).max(3650).optional() }).strict();

function consumerView(c: ConsumerRow) {
  return {
    id: c.id,
    name: c.name,
    eventTypes: c.eventTypes,
    tokens: c.tokens,
    subscriptions: c.subscriptions,
    createdBy: c.createdBy,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    deletedAt: c.deletedAt?.toISOString() ?? null,
    deletedBy: c.deletedBy,
  };
}

const valid = (id: string) => z.uuid().safeParse(id).success;

/** A consumer and its first token (the value is in the answer and nowhere else). */
export async function createConsumer(deps: ConsumerDeps, actor: string, input: z.output<typeof newConsumerInput>) {
  const { consumer, value } = await audited(deps.db, deps.log, async (sql) => {
    const row = await insertConsumer(sql, { id: randomUUID(), name: input.name, eventTypes: [...new Set(input.eventTypes)], createdBy: actor });
    const token = await issueToken(sql, { name: row.name, role: "consumer", createdBy: actor, expiresInDays: null, consumerId: row.id });
    return {
      result: { consumer: { ...row, tokens: 1 }, value: token.value },
      audit: { actor, action: "consumer.create", target: row.id, details: { name: row.name, eventTypes: row.eventTypes, tokenId: token.row.id } },
    };
  });
  return { ...consumerView(consumer), token: value };
}

export async function listAll(deps: ConsumerDeps) {
  return (await listConsumers(deps.db)).map(consumerView);
}

export async function changeConsumer(deps: ConsumerDeps, actor: string, id: string, change: z.output<typeof consumerChange>) {
  if (!valid(id)) return null;
  const row = await audited(deps.db, deps.log, async (sql) => {
    const updated = await updateConsumer(sql, id, { name: change.name, eventTypes: change.eventTypes ? [...new Set(change.eventTypes)] : undefined });
    return { result: updated, audit: updated ? { actor, action: "consumer.update", target: id, details: { changed: change } } : null };
  });
  return row ? consumerView(row) : null;
}

/** Deletes a consumer: its tokens stop working, its subscriptions are disabled and kept for the record. */
export async function removeConsumer(deps: ConsumerDeps, actor: string, id: string) {
  if (!valid(id)) return null;
  const done = await audited(deps.db, deps.log, async (sql) => {
    const deleted = await deleteConsumer(sql, id, actor);
    return {
      result: deleted,
      audit: deleted
        ? { actor, action: "consumer.delete", target: id, details: { name: deleted.consumer.name, disabledSubscriptions: deleted.disabled } }
        : null,
    };
  });
  return done ? { ...consumerView(done.consumer), disabledSubscriptions: done.disabled } : null;
}

/** One more token for a live consumer (rotation: issue, switch, revoke the old one). */
export async function addConsumerToken(deps: ConsumerDeps, actor: string, id: string, input: z.output<typeof newConsumerToken>) {
  if (!valid(id)) return null;
  return audited(deps.db, deps.log, async (sql) => {
    const consumer = await findLiveConsumer(sql, id, true);
    if (!consumer) return { result: null, audit: null };
    const { row, value } = await issueToken(sql, {
      name: consumer.name,
      role: "consumer",
      createdBy: actor,
      expiresInDays: input.expiresInDays ?? null,
      consumerId: id,
    });
    return { result: { ...tokenView(row), token: value }, audit: { actor, action: "consumer.token-create", target: id, details: { tokenId: row.id } } };
  });
}

export async function consumerTokens(deps: ConsumerDeps, id: string) {
  return valid(id) ? (await listApiTokens(deps.db, id)).map(tokenView) : [];
}

export async function revokeConsumerToken(deps: ConsumerDeps, actor: string, id: string, tokenId: string) {
  if (!valid(id) || !valid(tokenId)) return null;
  const row = await audited(deps.db, deps.log, async (sql) => {
    const revoked = await revokeApiToken(sql, tokenId, actor, id);
    return { result: revoked, audit: revoked ? { actor, action: "consumer.token-revoke", target: id, details: { tokenId } } : null };
  });
  return row ? tokenView(row) : null;
}
