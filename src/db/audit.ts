// The audit log. A change and its audit row are written in one transaction: there is no change without its
// row, and no row for a change that rolled back. (Queue actions live in Redis, outside any transaction: their
// row is written first, so an action can fail after being audited but never happen unaudited.)
import type { Logger } from "pino";
import type { Prisma } from "../generated/prisma/client.js";
import type { Database } from "./client.js";
import type { Sql } from "./sql.js";

export type Tx = Prisma.TransactionClient;

export interface AuditEntry {
  actor: string;
  action: string;
  target: string | null;
  details?: Record<string, unknown>;
}

/** Runs `change` and writes the audit row it returns in the same transaction; logs the action after commit. */
export async function audited<T>(db: Database, log: Logger, change: (tx: Tx) => Promise<{ result: T; audit: AuditEntry | null }>): Promise<T> {
  const { result, audit } = await db.prisma.$transaction(async (tx) => {
    const outcome = await change(tx);
    if (outcome.audit) await writeAudit(tx, outcome.audit);
    return outcome;
  });
  if (audit) logAudit(log, audit);
  return result;
}

export async function writeAudit(tx: Tx, entry: AuditEntry): Promise<void> {
  await tx.auditLog.create({ data: { actor: entry.actor, action: entry.action, target: entry.target, details: (entry.details ?? {}) as Prisma.InputJsonValue } });
}

/** The same row from a raw-SQL transaction (the Flovi replay runs on one). */
export async function writeAuditSql(sql: Sql, entry: AuditEntry): Promise<void> {
  await sql.query("INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4::jsonb)", [
    entry.actor,
    entry.action,
    entry.target,
    JSON.stringify(entry.details ?? {}),
  ]);
}

export function logAudit(log: Logger, entry: AuditEntry): void {
  log.info({ audit: { actor: entry.actor, action: entry.action, target: entry.target, ...entry.details } }, "admin action");
}
