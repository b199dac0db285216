// The one way to run a transaction (`withTransaction`), and `Sql`, the handle every writer takes: a pg
// client inside that transaction, or the pool for a statement on its own (`onPool`).
// Prisma or SQL, the one rule (docs/architecture.md): Prisma for one row found by its key (a read, or an
// update of plain fields) and simple lists; SQL for everything else: writes of many rows or with conditions,
// anything inside a transaction, locks, and the hot paths, where Prisma's per-query cost showed.
import type pg from "pg";
import type { Database } from "./client.js";
import { poolOf } from "./clients.js";

export interface Sql {
  query<R>(text: string, params?: unknown[]): Promise<R[]>;
}

function pgSql(client: pg.PoolClient | pg.Pool): Sql {
  return { query: async <R>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as R[] };
}

/** One statement on its own, outside any transaction. */
export function onPool(db: Database): Sql {
  return pgSql(poolOf(db));
}

/** BEGIN … COMMIT on one pooled connection; ROLLBACK and rethrow on any error. */
export async function withTransaction<T>(db: Database, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await poolOf(db).connect();
  let failure: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(pgSql(client));
    await client.query("COMMIT");
    return result;
  } catch (error) {
    failure = error as Error;
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    // A connection that failed may be broken (server restarted): destroy it rather than pool it.
    client.release(failure);
  }
}
