// `npm run db:migrate` (and the Docker image's migrate service): applies pending migrations to DATABASE_URL, or
// to DATABASE_DIRECT_URL when set (Postgres itself, when DATABASE_URL goes through PgBouncer).
import path from "node:path";
import { loadDevSettings } from "../config/dev-settings.js";
import { ConfigError, loadMigrationConfig } from "../config/env.js";
import { migrate } from "./migrate.js";

// Beside a running `npm run dev`, its settings (.data/dev.env) fill what the environment lacks, as for the CLI.
const devSettings = loadDevSettings();
if (devSettings) process.stderr.write(`using the settings of the running \`npm run dev\` (${devSettings})\n`);

try {
  const config = loadMigrationConfig(process.env);
  const result = await migrate(config.DATABASE_DIRECT_URL ?? config.DATABASE_URL, path.resolve(config.MIGRATIONS_DIR));
  for (const name of result.applied) process.stdout.write(`applied ${name}\n`);
  process.stdout.write(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied\n`);
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : ((error as Error).stack ?? String(error))}\n`);
  process.exit(error instanceof ConfigError ? 78 : 1);
}
