// The admin CLI (docs/cli.md): `npx hub <command>` or `npm run admin -- <command>` (bin/hub.mjs runs this file,
// bundled into dist/cli/ by scripts/build-cli.mjs; `node bin/hub.mjs <command>` in the image). The same
// actions and audit rows as the admin API; tables and sentences for people, `--json` for scripts. A command
// opens only the connections it needs: most need Postgres alone, never a queue.
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, preparedStatements, type Config } from "../config/env.js";
import { describeRedis, redisSettings } from "../config/redis-settings.js";
import { loadDevSettings } from "../config/dev-settings.js";
import { createDatabase, type Database } from "../db/client.js";
import { createLogger } from "../observability/logger.js";
import type { Queues } from "../queues/queues.js";
import type { RedisClient } from "../queues/redis.js";
import type { Io } from "./cli-commands.js";
import { USAGE, usageFor } from "./cli-usage.js";

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        limit: { type: "string" },
        start: { type: "string" },
        status: { type: "string" },
        name: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        "response-status": { type: "string" },
        cursor: { type: "string" },
        header: { type: "string", multiple: true },
        "allow-authorization": { type: "boolean" },
        "clear-headers": { type: "boolean" },
        filters: { type: "string" },
        rabbitmq: { type: "string" },
        exchange: { type: "string" },
        "routing-key": { type: "string" },
        nats: { type: "string" },
        "reason-contains": { type: "string" },
        ordering: { type: "string" },
        "max-in-flight": { type: "string" },
        rate: { type: "string" },
        description: { type: "string" },
        events: { type: "string" },
        "allow-duplicate": { type: "boolean" },
        "include-pending": { type: "boolean" },
        force: { type: "boolean" },
        subscription: { type: "string" },
        type: { type: "string" },
        subject: { type: "string" },
        after: { type: "string" },
        reference: { type: "string" },
        lastname: { type: "string" },
        "time-zone": { type: "string" },
        active: { type: "boolean" },
        role: { type: "string" },
        "expires-in-days": { type: "string" },
        as: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return fail(`${(error as Error).message}\n(hub --help: every command with its options)`);
  }
}
const { positionals, values } = parseCommandLine();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (positionals.length === 0) fail(USAGE);

// Beside a running `npm run dev`, its connection settings (.data/dev.env) fill what the environment lacks.
const devSettings = loadDevSettings();
if (devSettings) process.stderr.write(`using the settings of the running \`npm run dev\` (${devSettings})\n`);

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error), 78);
}

// Opened on first use only.
let db: Database | undefined;
let redis: RedisClient | undefined;
let queues: Queues | undefined;
const io: Io = {
  config,
  log: createLogger({ level: "warn", destination: process.stderr }),
  // Whoever holds DATABASE_URL acts as an admin; --as (or HUB_ACTOR) names the person in the audit rows.
  actor: `cli:${values.as ?? process.env.HUB_ACTOR ?? userInfo().username}`,
  values,
  db: () => {
    db ??= createDatabase({ url: config.DATABASE_URL, poolSize: 2, applicationName: "event-hub-admin-cli", preparedStatements: preparedStatements(config) });
    return db;
  },
  // Loaded by queuesReady() only (BullMQ and ioredis are a good part of a start-up), which every command that
  // touches a queue awaits first.
  queues: () => {
    if (!queues) throw new Error("internal: the queues are opened by queuesReady() first");
    return queues;
  },
  write: (text) => process.stdout.write(`${text}\n`),
  // A command that needs the queues fails in seconds with a clear message when Redis is away, never hangs.
  async queuesReady() {
    const [{ createQueues }, { createRedis, pingRedis }] = await Promise.all([import("../queues/queues.js"), import("../queues/redis.js")]);
    redis ??= createRedis(redisSettings(config), "worker");
    queues ??= createQueues({ connection: redis, prefix: config.QUEUE_PREFIX });
    await pingRedis(redis, 5_000).catch((error: unknown) => {
      throw new Error(`Redis is not reachable (${describeRedis(redisSettings(config))}): ${(error as Error).message}`);
    });
  },
};

let exitCode = 0;
try {
  const { runCommand } = await import("./cli-commands.js");
  const result = await runCommand(io, positionals);
  if (result.usage) fail(`${result.text}\n${usageFor(positionals[0], positionals[1])}`);
  if (result.text !== undefined || result.data !== undefined) io.write(values.json ? JSON.stringify(result.data ?? null, null, 2) : (result.text ?? ""));
  exitCode = result.ok ? 0 : 1;
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  exitCode = 1;
} finally {
  // A connection that never became ready is dropped, not closed (closing would wait for it).
  if (redis && redis.status !== "ready") redis.disconnect();
  else {
    await queues?.close();
    await redis?.quit().catch(() => redis?.disconnect());
  }
  await db?.close();
}
process.exit(exitCode);
