// The audit log. A change and its audit row are written in one transaction: there is no change without its
// row, and no row for a change that rolled back. (Queue actions live in Redis, outside any transaction: their
// row is written first, so an action can fail after being audited but never happen unaudited.)
import type { Logger } from "pino";
import type { Database } from "./client.js";
import { onPool, withTransaction, type Sql } from "./sql.js";
import { prismaOf } from "./clients.js";

export interface AuditEntry {
  actor: string;
  action: string;
  target: string | null;
  details?: Record<string, unknown>;
}

/** Runs `change` and writes the audit row it returns in the same transaction; logs the action after commit. */
export async function audited<T>(db: Database, log: Logger, change: (sql: Sql) => Promise<{ result: T; audit: AuditEntry | null }>): Promise<T> {
  const { result, audit } = await withTransaction(db, async (sql) => {
    const outcome = await change(sql);
    if (outcome.audit) await writeAudit(sql, outcome.audit);
    return outcome;
  });
  if (audit) logAudit(log, audit);
  return result;
}

/** The audit row, in the caller's transaction (or alone, on the pool: see `auditFirst` in the admin service). */
export async function writeAudit(sql: Sql, entry: AuditEntry): Promise<void> {
  await sql.query("INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4::jsonb)", [
    entry.actor,
    entry.action,
    entry.target,
    JSON.stringify(entry.details ?? {}),
  ]);
}

/** An audit row on its own (queue actions, which no transaction covers). */
export function appendAudit(db: Database, entry: AuditEntry): Promise<void> {
  return writeAudit(onPool(db), entry);
}

export function logAudit(log: Logger, entry: AuditEntry): void {
  log.info({ audit: { actor: entry.actor, action: entry.action, target: entry.target, ...entry.details } }, "admin action");
}

/** Newest first. */
export function listAudit(db: Database, opts: { limit: number; start?: number }) {
  return prismaOf(db).auditLog.findMany({ orderBy: { id: "desc" }, skip: opts.start ?? 0, take: opts.limit });
}
