// Raw SQL for the hot paths (ingress, Flovi processing, outbox), where Prisma's per-query overhead
// dominated the cost; Prisma stays for everything else. `Sql` runs on a pg client inside our own
// transaction or on a Prisma interactive transaction, so shared writers (the outbox) serve both.
import type pg from "pg";
import type { Database } from "./client.js";
import type { Prisma } from "../generated/prisma/client.js";

export interface Sql {
  query<R>(text: string, params?: unknown[]): Promise<R[]>;
}

export function pgSql(client: pg.PoolClient | pg.Pool): Sql {
  return { query: async <R,>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as R[] };
}

export function prismaSql(tx: Prisma.TransactionClient): Sql {
  return { query: <R,>(text: string, params: unknown[] = []) => tx.$queryRawUnsafe<R[]>(text, ...params) };
}

/** BEGIN … COMMIT on one pooled connection; ROLLBACK and rethrow on any error. */
export async function withTransaction<T>(db: Database, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
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
