// The one way to run a transaction (`withTransaction`), and `Sql`, the handle every writer takes: a pg
// client inside that transaction, or the pool for a statement on its own (`onPool`).
// Prisma or SQL, the one rule (docs/architecture.md): Prisma for one row found by its key (a read, or an
// update of plain fields) and simple lists; SQL for everything else: writes of many rows or with conditions,
// anything inside a transaction, locks, and the hot paths, where Prisma's per-query cost showed.
import type pg from "pg";
import type { Database } from "./client.js";
import { type Clients, clientsOf } from "./clients.js";

/**
 * One of the few statements the service runs for every event (the Flovi drain's write, the attempts' record),
 * whose planning costs more than its execution: it is prepared once per connection and runs with one generic
 * plan, planned with index access only (docs/architecture.md, "Hot statements"). With prepared statements off
 * (DATABASE_PREPARED_STATEMENTS=false, behind a pooler that does not keep them) it is planned at each run.
 */
export interface HotStatement {
  readonly name: string;
  readonly text: string;
}

export const hotStatement = (name: string, text: string): HotStatement => ({ name: `hub_${name}`, text });

export interface Sql {
  query<R>(text: string, params?: unknown[]): Promise<R[]>;
  /** A hot statement (above): prepared and run with its generic plan where prepared statements are on. */
  hot<R>(statement: HotStatement, params: unknown[]): Promise<R[]>;
}

// The generic plan is made with the statistics of the moment, which on a new database say every table is
// empty: with sequential scans off it uses the indexes (as a custom plan does) however small the tables look.
// The session's own settings are back for the transaction's next plain statement (`clientSql` below).
const GENERIC_PLAN = "SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off";
const SESSION_PLAN = "SET LOCAL plan_cache_mode TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT";

// A connection's named statement is gone (26000) or another client's is there (42P05): a transaction pooler
// that moves clients between server connections. The process stops preparing and plans each run instead.
const POOLER_ERRORS = new Set(["26000", "42P05"]);
const isPoolerError = (error: unknown) => POOLER_ERRORS.has((error as { code?: string }).code ?? "");

/** The statement, prepared on first use on this connection; a pooler's loss of it turns preparing off. */
async function runNamed<R>(clients: Clients, client: pg.PoolClient, statement: HotStatement, params: unknown[]): Promise<R[]> {
  try {
    return (await client.query({ name: statement.name, text: statement.text, values: params })).rows as R[];
  } catch (error) {
    if (isPoolerError(error)) clients.prepared = false;
    throw error;
  }
}

/** Plain statements on a pool or one of its connections. */
const queryOn =
  (target: pg.Pool | pg.PoolClient) =>
  async <R>(text: string, params: unknown[] = []) =>
    (await target.query(text, params)).rows as R[];

/**
 * A transaction's connection as an `Sql`. A hot statement sets the generic plan (one round trip) unless the
 * transaction already runs with it, and leaves it set: the next hot statement, and COMMIT, need nothing more.
 * A plain statement after it puts the session's settings back first (`SET LOCAL` lasts until the transaction
 * ends), so it plans as it always did.
 */
function clientSql(clients: Clients, client: pg.PoolClient, genericFromStart = false): Sql {
  let generic = genericFromStart;
  const plain = queryOn(client);
  return {
    async query<R>(text: string, params: unknown[] = []) {
      if (generic) {
        await client.query(SESSION_PLAN);
        generic = false;
      }
      return plain<R>(text, params);
    },
    async hot<R>(statement: HotStatement, params: unknown[]): Promise<R[]> {
      if (!clients.prepared) return plain<R>(statement.text, params);
      if (!generic) {
        await client.query(GENERIC_PLAN);
        generic = true;
      }
      return runNamed<R>(clients, client, statement, params);
    },
  };
}

/** One statement on its own, outside any transaction (a hot one in a transaction of its own). */
export function onPool(db: Database): Sql {
  const clients = clientsOf(db);
  const query = queryOn(clients.pool);
  return {
    query,
    async hot<R>(statement: HotStatement, params: unknown[]): Promise<R[]> {
      if (!clients.prepared) return query<R>(statement.text, params);
      try {
        // The transaction's first round trip sets its plan; its end puts the session's back.
        return await transaction(clients, `BEGIN; ${GENERIC_PLAN}`, (client) => runNamed<R>(clients, client, statement, params));
      } catch (error) {
        // Nothing was written (the transaction rolled back): once more, planned as any other statement.
        if (isPoolerError(error)) return query<R>(statement.text, params);
        throw error;
      }
    },
  };
}

/** BEGIN … COMMIT on one pooled connection; ROLLBACK and rethrow on any error. */
export async function withTransaction<T>(db: Database, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const clients = clientsOf(db);
  return transaction(clients, "BEGIN", (client) => fn(clientSql(clients, client)));
}

/**
 * A transaction on the hot path: its first statement goes in BEGIN's round trip, and its result comes with the
 * handle. Where hot statements are prepared, the transaction runs with their generic plan from the start (set in
 * that same round trip), so that `first` (if any) and the hot statements that follow it need no round trip of their own
 * to set it; a plain statement puts the session's settings back before it runs (above). `first` is sent as text
 * with no parameters: every value in it must be the code's own, never input.
 */
export async function withHotTransaction<T, R>(db: Database, first: string | null, fn: (sql: Sql, rows: R[]) => Promise<T>): Promise<T> {
  const clients = clientsOf(db);
  const generic = clients.prepared;
  const begin = ["BEGIN", ...(generic ? [GENERIC_PLAN] : []), ...(first ? [first] : [])].join("; ");
  return transaction(clients, begin, (client, rows) => fn(clientSql(clients, client, generic), rows as R[]));
}

/** The rows of a query's last statement (pg answers a query of several statements with one result each). */
const lastRows = (result: pg.QueryResult | pg.QueryResult[]): unknown[] => (Array.isArray(result) ? (result.at(-1)?.rows ?? []) : result.rows);

async function transaction<T>(clients: Clients, begin: string, fn: (client: pg.PoolClient, rows: unknown[]) => Promise<T>): Promise<T> {
  const client = await clients.pool.connect();
  let failure: Error | undefined;
  try {
    const begun = lastRows(await client.query(begin));
    const result = await fn(client, begun);
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

/** `client`'s open transaction as an `Sql` (tests that hold a transaction open). */
export function inOpenTransaction(db: Database, client: pg.PoolClient): Sql {
  return clientSql(clientsOf(db), client);
}
