// Starts one throwaway PostgreSQL and one Redis on free loopback ports for the whole run, migrates a
// template database that every test file clones, and tears both down even when tests fail.
//
// HUB_TEST_REDIS=cluster|sentinel runs the same tests against a 3-master Redis Cluster or a Sentinel-managed
// primary and replica instead of one node; HUB_TEST_PGBOUNCER=1 routes every test database through PgBouncer
// in transaction mode (migrations still go to Postgres directly). `npm run test:topologies` uses both.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/db/migrate.js";
import { createDatabase, startPostgres, startRedis } from "../../scripts/lib/local-services.js";
import { startPgBouncer, startRedisCluster, startRedisSentinel } from "../../scripts/lib/topologies.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgServerUrl: string;
    /** The Redis variables of the topology under test (REDIS_URL, or REDIS_SENTINELS + master, or REDIS_CLUSTER_NODES). */
    redisEnv: Record<string, string>;
    /** PgBouncer's port when the run goes through it, else 0. */
    pgBouncerPort: number;
    templateDatabase: string;
    scratchDir: string;
  }
}

export const TEMPLATE_DATABASE = "hub_template";

export default async function setup(project: TestProject) {
  const root = mkdtempSync(path.join(tmpdir(), "hub-test-"));
  chmodSync(root, 0o755); // the postgres user must reach its data directory inside
  const started = Date.now();
  const topology = process.env.HUB_TEST_REDIS ?? "single";
  const [pg, redis] = await Promise.all([startPostgres({ dataDir: path.join(root, "postgres"), ephemeral: true }), startTopology(topology, root)]);
  const bouncer =
    process.env.HUB_TEST_PGBOUNCER === "1"
      ? await startPgBouncer({ dataDir: path.join(root, "pgbouncer"), postgresPort: pg.port, serverIdleTimeoutS: 5 })
      : undefined;
  const templateUrl = await createDatabase(pg.url, TEMPLATE_DATABASE);
  await migrate(templateUrl, path.resolve(import.meta.dirname, "../../prisma/migrations"));
  process.stdout.write(
    `[test] postgres ${pg.url}${bouncer ? ` through pgbouncer :${bouncer.port}` : ""}, redis ${topology} ${JSON.stringify(redis.env)} ready in ${Date.now() - started} ms\n`,
  );

  project.provide("pgServerUrl", pg.url);
  project.provide("redisEnv", redis.env);
  project.provide("pgBouncerPort", bouncer?.port ?? 0);
  project.provide("templateDatabase", TEMPLATE_DATABASE);
  project.provide("scratchDir", root);

  return async () => {
    await bouncer?.stop();
    await Promise.allSettled([redis.stop(), pg.stop()]);
    rmSync(root, { recursive: true, force: true });
  };
}

async function startTopology(kind: string, root: string): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  const dataDir = path.join(root, "redis");
  if (kind === "cluster") {
    const cluster = await startRedisCluster({ dataDir });
    return { env: { REDIS_CLUSTER_NODES: cluster.nodesEnv }, stop: () => cluster.stop() };
  }
  if (kind === "sentinel") {
    const set = await startRedisSentinel({ dataDir });
    return { env: { REDIS_SENTINELS: set.sentinelsEnv, REDIS_SENTINEL_MASTER: set.master }, stop: () => set.stop() };
  }
  if (kind !== "single") throw new Error(`HUB_TEST_REDIS must be single, cluster or sentinel, not ${kind}`);
  const server = await startRedis({ dataDir });
  return { env: { REDIS_URL: server.url }, stop: () => server.stop() };
}
