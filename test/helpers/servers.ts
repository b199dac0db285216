// Private Postgres / Redis servers for tests that stop and start them (the shared ones must stay up).
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { inject } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { createDatabase, startPostgres, startRedis, type LocalServer } from "../../scripts/lib/local-services.js";

const migrations = path.resolve(import.meta.dirname, "../../prisma/migrations");

export async function privatePostgres(): Promise<{ server: LocalServer; databaseUrl: string }> {
  const dir = mkdtempSync(path.join(inject("scratchDir"), "pg-"));
  const server = await startPostgres({ dataDir: dir, ephemeral: true });
  const databaseUrl = await createDatabase(server.url, "hub");
  await migrate(databaseUrl, migrations);
  return { server, databaseUrl };
}

export async function privateRedis(): Promise<LocalServer> {
  return startRedis({ dataDir: mkdtempSync(path.join(inject("scratchDir"), "redis-")) });
}
