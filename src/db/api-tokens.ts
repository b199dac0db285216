// Named operator tokens (docs/security.md): rows hold a token's SHA-256, never its value.
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";
import { unnestLayout, columnsFor } from "./unnest.js";

import type { Role } from "../domain/access.js";

export type { Role };

export interface ApiTokenRow {
  id: string;
  name: string;
  /** "consumer" for a consumer's token. */
  role: Role | "consumer";
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
  role: Role | "consumer";
  expiresAt: Date | null;
  /** A consumer's token: the consumer (live) and the event types it is allowed. */
  consumerId: string | null;
  consumerName: string | null;
  consumerEventTypes: string[] | null;
}

const COLUMNS = `id, name, role, prefix, created_by AS "createdBy", created_at AS "createdAt", expires_at AS "expiresAt",
  last_used_at AS "lastUsedAt", revoked_at AS "revokedAt", revoked_by AS "revokedBy"`;

export class TokenNameTaken extends Error {}

export async function insertApiToken(
  sql: Sql,
  token: {
    id: string;
    name: string;
    role: Role | "consumer";
    tokenHash: string;
    prefix: string;
    createdBy: string;
    expiresInDays: number | null;
    consumerId?: string;
  },
): Promise<ApiTokenRow> {
  try {
    const [row] = await sql.query<ApiTokenRow>(
      `INSERT INTO api_tokens (id, name, role, token_hash, prefix, created_by, expires_at, consumer_id)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7::int), $8) RETURNING ${COLUMNS}`,
      [token.id, token.name, token.role, token.tokenHash, token.prefix, token.createdBy, token.expiresInDays, token.consumerId ?? null],
    );
    return row!;
  } catch (error) {
    if ((error as { constraint?: string }).constraint === "api_tokens_live_name_key") throw new TokenNameTaken(token.name);
    throw error;
  }
}

/** Live tokens first (newest first), then revoked ones; never a hash. Operators' tokens, or one consumer's. */
export function listApiTokens(db: Database, consumerId: string | null = null): Promise<ApiTokenRow[]> {
  return onPool(db).query<ApiTokenRow>(
    `SELECT ${COLUMNS} FROM api_tokens WHERE consumer_id IS NOT DISTINCT FROM $1::uuid ORDER BY revoked_at IS NOT NULL, created_at DESC LIMIT 1000`,
    [consumerId],
  );
}

/** Revokes a live token (an operator's, or the named consumer's); null when there is none. */
export async function revokeApiToken(sql: Sql, id: string, by: string, consumerId: string | null = null): Promise<ApiTokenRow | null> {
  const [row] = await sql.query<ApiTokenRow>(
    `UPDATE api_tokens SET revoked_at = now(), revoked_by = $2
      WHERE id = $1 AND revoked_at IS NULL AND consumer_id IS NOT DISTINCT FROM $3::uuid RETURNING ${COLUMNS}`,
    [id, by, consumerId],
  );
  return row ?? null;
}

/** The live, unexpired token with this hash. */
export async function findGrant(db: Database, tokenHash: string): Promise<TokenGrant | null> {
  const [row] = await onPool(db).query<TokenGrant>(
    `SELECT t.id, t.name, t.role, t.expires_at AS "expiresAt", t.consumer_id AS "consumerId", c.name AS "consumerName",
            c.event_types AS "consumerEventTypes"
       FROM api_tokens t LEFT JOIN consumers c ON c.id = t.consumer_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
        AND (t.consumer_id IS NULL OR c.deleted_at IS NULL)`,
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
