// Plans Postgres ran, read back: a one-connection database handle whose statements' plans (the functions' own
// statements too) come to the test as notices, from Postgres's auto_explain module. Tests that a statement
// reads by its key, whatever the statistics say, assert on these plans rather than on time.
import { createDatabase, type Database } from "../../src/db/client.js";
import { poolOf } from "../../src/db/clients.js";
import { directDatabaseUrl, type TestContext } from "./context.js";

export interface ExplainedDatabase {
  db: Database;
  /** The plans of the statements `run` made Postgres execute, in order. */
  plansOf(run: () => Promise<unknown>): Promise<string[]>;
}

/** With `analyze`, each plan also says the rows and the buffers each step read (not the time: timing is off). */
export async function explainedDatabase(ctx: TestContext, opts: { analyze?: boolean; preparedStatements?: boolean } = {}): Promise<ExplainedDatabase> {
  const db = createDatabase({ url: directDatabaseUrl(ctx.config.DATABASE_URL), poolSize: 1, preparedStatements: opts.preparedStatements ?? false });
  const plans: string[] = [];
  const client = await poolOf(db).connect();
  client.on("notice", (notice) => plans.push(notice.message ?? ""));
  const analyze = opts.analyze ? "SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on; SET auto_explain.log_timing = off;" : "";
  await client.query(
    `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; ${analyze} SET auto_explain.log_level = notice`,
  );
  client.release();
  return {
    db,
    async plansOf(run) {
      plans.length = 0;
      await run();
      return [...plans];
    },
  };
}
