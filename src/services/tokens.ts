// Named operator tokens: created with a role, shown once, stored as a hash, revoked at once (docs/security.md).
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { audited } from "../db/audit.js";
import type { Database } from "../db/client.js";
import type { Sql } from "../db/sql.js";
import { insertApiToken, listApiTokens, revokeApiToken, type ApiTokenRow } from "../db/api-tokens.js";

export { TokenNameTaken } from "../db/api-tokens.js";
import { ROLES } from "../domain/access.js";

/**
 * Every token the hub issues starts with this, so secret scanners (and people) can recognise a leaked one;
 * the rest is 32 random bytes, base64url.
 */
export const TOKEN_PREFIX = "lehub_";

/** What the CLI prints under a token it has just shown. */
export const SHOWN_ONCE = "This is the only time it is shown: only its hash is stored. Hand it over through a secret store.";

export interface TokenDeps {
  db: Database;
  log: Logger;
}

export const newTokenInput = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[\p{L}\p{N} ._@-]+$/u, "letters, digits, spaces and . _ @ - only"),
    role: z.enum(ROLES as [string, ...string[]]),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();

export type NewToken = z.output<typeof newTokenInput>;

const tokenDigest = (value: string) => createHash("sha256").update(value).digest("hex");

/** A token's public view: everything but its value (which no one can read back) and its hash. */
export function tokenView(row: ApiTokenRow) {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    revokedBy: row.revokedBy,
  };
}

/** A new token's row, in the caller's transaction, and its value (which is nowhere else). */
export async function issueToken(
  sql: Sql,
  fields: { name: string; role: ApiTokenRow["role"]; createdBy: string; expiresInDays: number | null; consumerId?: string },
): Promise<{ row: ApiTokenRow; value: string }> {
  const value = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const row = await insertApiToken(sql, {
    ...fields,
    id: randomUUID(),
    tokenHash: tokenDigest(value),
    prefix: value.slice(0, TOKEN_PREFIX.length + 6),
  });
  return { row, value };
}

/** Creates an operator's token; its value is in the answer and nowhere else. */
export async function createToken(deps: TokenDeps, actor: string, input: NewToken) {
  const { row, value } = await audited(deps.db, deps.log, async (sql) => {
    const issued = await issueToken(sql, {
      name: input.name,
      role: input.role as ApiTokenRow["role"],
      createdBy: actor,
      expiresInDays: input.expiresInDays ?? null,
    });
    const { row } = issued;
    return {
      result: issued,
      audit: { actor, action: "token.create", target: row.id, details: { name: row.name, role: row.role, expiresAt: row.expiresAt?.toISOString() ?? null } },
    };
  });
  return { ...tokenView(row), token: value };
}

export async function listTokens(deps: TokenDeps) {
  return (await listApiTokens(deps.db)).map(tokenView);
}

/** Revokes a live token; null when there is none. Every api process refuses it within a second. */
export async function revokeToken(deps: TokenDeps, actor: string, id: string) {
  if (!z.uuid().safeParse(id).success) return null;
  const row = await audited(deps.db, deps.log, async (sql) => {
    const revoked = await revokeApiToken(sql, id, actor);
    return { result: revoked, audit: revoked ? { actor, action: "token.revoke", target: id, details: { name: revoked.name, role: revoked.role } } : null };
  });
  return row ? tokenView(row) : null;
}
