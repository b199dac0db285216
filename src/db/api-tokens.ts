// Named operator tokens (docs/security.md): rows hold a token's SHA-256, never its value.
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";
import { unnestLayout, columnsFor } from "./unnest.js";

import type { Role } from "../domain/access.js";

export type { Role };

export interface ApiTokenRow {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** What authentication needs of a token found by its hash. */
export interface TokenGrant {
  id: string;
  name: string;
  role: Role;
  expiresAt: Date | null;
}

const COLUMNS = `id, name, role, prefix, created_by AS "createdBy", created_at AS "createdAt", expires_at AS "expiresAt",
  last_used_at AS "lastUsedAt", revoked_at AS "revokedAt", revoked_by AS "revokedBy"`;

export class TokenNameTaken extends Error {}

export async function insertApiToken(
  sql: Sql,
  token: { id: string; name: string; role: Role; tokenHash: string; prefix: string; createdBy: string; expiresInDays: number | null },
): Promise<ApiTokenRow> {
  try {
    const [row] = await sql.query<ApiTokenRow>(
      `INSERT INTO api_tokens (id, name, role, token_hash, prefix, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7::int)) RETURNING ${COLUMNS}`,
      [token.id, token.name, token.role, token.tokenHash, token.prefix, token.createdBy, token.expiresInDays],
    );
    return row!;
  } catch (error) {
    if ((error as { constraint?: string }).constraint === "api_tokens_live_name_key") throw new TokenNameTaken(token.name);
    throw error;
  }
}

/** Live tokens first (newest first), then revoked ones; never a hash. */
export function listApiTokens(db: Database): Promise<ApiTokenRow[]> {
  return onPool(db).query<ApiTokenRow>(`SELECT ${COLUMNS} FROM api_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC LIMIT 1000`);
}

/** Revokes a live token; null when there is none with that id (or it was revoked already). */
export async function revokeApiToken(sql: Sql, id: string, by: string): Promise<ApiTokenRow | null> {
  const [row] = await sql.query<ApiTokenRow>(
    `UPDATE api_tokens SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`,
    [id, by],
  );
  return row ?? null;
}

/** The live, unexpired token with this hash. */
export async function findGrant(db: Database, tokenHash: string): Promise<TokenGrant | null> {
  const [row] = await onPool(db).query<TokenGrant>(
    `SELECT id, name, role, expires_at AS "expiresAt" FROM api_tokens
      WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [tokenHash],
  );
  return row ?? null;
}

/** Whether any named token is live: then the hub is open to them, ADMIN_TOKEN set or not. */
export async function anyLiveToken(db: Database): Promise<boolean> {
  const [row] = await onPool(db).query<{ any: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS any",
  );
  return row!.any;
}

const uses = unnestLayout({
  use: columnsFor<{ id: string; at: Date }>({ id: ["uuid", (u) => u.id], at: ["timestamptz", (u) => u.at] }),
});

/** Last uses, many tokens in one statement; a time never moves back. */
export async function recordTokenUses(db: Database, batch: { id: string; at: Date }[]): Promise<void> {
  if (batch.length === 0) return;
  await onPool(db).query(
    `UPDATE api_tokens t SET last_used_at = greatest(t.last_used_at, u.at)
       FROM ${uses.unnest("use")} AS u(${uses.names("use")}) WHERE t.id = u.id`,
    uses.values({ use: batch }),
  );
}
