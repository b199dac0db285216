// Starts one throwaway PostgreSQL and one Redis on free loopback ports for the whole run, migrates a
// template database that every test file clones, and tears both down even when tests fail.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/db/migrate.js";
import { createDatabase, startPostgres, startRedis } from "../../scripts/lib/local-services.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgServerUrl: string;
    redisUrl: string;
    templateDatabase: string;
    scratchDir: string;
  }
}

export const TEMPLATE_DATABASE = "hub_template";

export default async function setup(project: TestProject) {
  const root = mkdtempSync(path.join(tmpdir(), "hub-test-"));
  chmodSync(root, 0o755); // the postgres user must reach its data directory inside
  const started = Date.now();
  const [pg, redis] = await Promise.all([
    startPostgres({ dataDir: path.join(root, "postgres"), ephemeral: true }),
    startRedis({ dataDir: path.join(root, "redis") }),
  ]);
  const templateUrl = await createDatabase(pg.url, TEMPLATE_DATABASE);
  await migrate(templateUrl, path.resolve(import.meta.dirname, "../../prisma/migrations"));
  process.stdout.write(`[test] postgres ${pg.url}, redis ${redis.url} ready in ${Date.now() - started} ms\n`);

  project.provide("pgServerUrl", pg.url);
  project.provide("redisUrl", redis.url);
  project.provide("templateDatabase", TEMPLATE_DATABASE);
  project.provide("scratchDir", root);

  return async () => {
    await Promise.allSettled([redis.stop(), pg.stop()]);
    rmSync(root, { recursive: true, force: true });
  };
}
