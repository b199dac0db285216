// npm run db:migrate: applies pending migrations to DATABASE_URL (idempotent).
import path from "node:path";
import { migrate } from "../src/db/migrate.js";

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write("DATABASE_URL is required (postgresql://user:pass@host:5432/db)\n");
  process.exit(78);
}
const result = await migrate(url, path.resolve(import.meta.dirname, "../prisma/migrations"));
for (const name of result.applied) process.stdout.write(`applied ${name}\n`);
process.stdout.write(`${result.applied.length} applied, ${result.alreadyApplied.length} already applied\n`);
