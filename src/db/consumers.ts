// Consumers (docs/security.md, "Consumers"): downstream services with their own tokens and subscriptions.
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";

export interface ConsumerRow {
  id: string;
  name: string;
  eventTypes: string[];
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  deletedBy: string | null;
  /** Live tokens and live subscriptions. */
  tokens: number;
  subscriptions: number;
}

const COLUMNS = `c.id, c.name, c.event_types AS "eventTypes", c.created_by AS "createdBy", c.created_at AS "createdAt", c.updated_at AS "updatedAt",
  c.deleted_at AS "deletedAt", c.deleted_by AS "deletedBy",
  (SELECT count(*)::int FROM api_tokens t WHERE t.consumer_id = c.id AND t.revoked_at IS NULL) AS tokens,
  (SELECT count(*)::int FROM subscriptions s WHERE s.consumer_id = c.id AND s.deleted_at IS NULL) AS subscriptions`;

export class ConsumerNameTaken extends Error {}

async function one(sql: Sql, text: string, params: unknown[]): Promise<ConsumerRow | null> {
  try {
    const [row] = await sql.query<{ id: string }>(text, params);
    if (!row) return null;
    const [full] = await sql.query<ConsumerRow>(`SELECT ${COLUMNS} FROM consumers c WHERE c.id = $1`, [row.id]);
    return full ?? null;
  } catch (error) {
    if ((error as { constraint?: string }).constraint === "consumers_live_name_key") throw new ConsumerNameTaken();
    throw error;
  }
}

export async function insertConsumer(sql: Sql, consumer: { id: string; name: string; eventTypes: string[]; createdBy: string }): Promise<ConsumerRow> {
  const row = await one(sql, "INSERT INTO consumers (id, name, event_types, created_by) VALUES ($1, $2, $3, $4) RETURNING id", [
    consumer.id,
    consumer.name,
    consumer.eventTypes,
    consumer.createdBy,
  ]);
  return row!;
}

/** Live consumers first, then deleted ones, newest first. */
export function listConsumers(db: Database): Promise<ConsumerRow[]> {
  return onPool(db).query<ConsumerRow>(`SELECT ${COLUMNS} FROM consumers c ORDER BY c.deleted_at IS NOT NULL, c.created_at DESC LIMIT 1000`);
}

/** A live consumer; locked when read inside a change. */
export async function findLiveConsumer(sql: Sql, id: string, forUpdate = false): Promise<ConsumerRow | null> {
  return one(sql, `SELECT id FROM consumers WHERE id = $1 AND deleted_at IS NULL${forUpdate ? " FOR UPDATE" : ""}`, [id]);
}

export function updateConsumer(sql: Sql, id: string, change: { name?: string; eventTypes?: string[] }): Promise<ConsumerRow | null> {
  return one(
    sql,
    `UPDATE consumers SET name = coalesce($2, name), event_types = coalesce($3::text[], event_types), updated_at = now()
      WHERE id = $1 AND deleted_at IS NULL RETURNING id`,
    [id, change.name ?? null, change.eventTypes ?? null],
  );
}

/** Deletes a consumer for good: its tokens are revoked, its live subscriptions disabled (kept for the record). */
export async function deleteConsumer(sql: Sql, id: string, by: string): Promise<{ consumer: ConsumerRow; disabled: string[] } | null> {
  const consumer = await one(sql, "UPDATE consumers SET deleted_at = now(), deleted_by = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id", [id, by]);
  if (!consumer) return null;
  await sql.query("UPDATE api_tokens SET revoked_at = now(), revoked_by = $2 WHERE consumer_id = $1 AND revoked_at IS NULL", [id, by]);
  const disabled = await sql.query<{ id: string }>(
    `UPDATE subscriptions SET status = 'disabled', disabled_reason = 'its consumer was deleted', disabled_at = now(), updated_at = now()
      WHERE consumer_id = $1 AND deleted_at IS NULL AND status <> 'disabled' RETURNING id`,
    [id],
  );
  const [fresh] = await sql.query<ConsumerRow>(`SELECT ${COLUMNS} FROM consumers c WHERE c.id = $1`, [id]);
  return { consumer: fresh ?? consumer, disabled: disabled.map((r) => r.id) };
}
