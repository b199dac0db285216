// npm run dev: the embedded default. Without DATABASE_URL / REDIS_URL it starts a private PostgreSQL and
// Redis under .data/ on loopback, applies migrations, then runs api + worker in one process with readable
// logs. Ctrl-C stops everything it started.
import { spawn } from "node:child_process";
import path from "node:path";
import { migrate } from "../src/db/migrate.js";
import { createDatabase, MissingBinaryError, startPostgres, startRedis, type LocalServer } from "./lib/local-services.js";

const root = path.resolve(import.meta.dirname, "..");
const dataDir = path.join(root, ".data");
const started: LocalServer[] = [];
const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);

async function stopAll() {
  for (const server of started.reverse()) await server.stop().catch(() => undefined);
}

async function main() {
  const env: Record<string, string | undefined> = { ...process.env };
  try {
    if (!env.DATABASE_URL) {
      const pg = await startPostgres({ dataDir: path.join(dataDir, "postgres"), port: Number(env.DEV_POSTGRES_PORT ?? 54329) });
      started.push(pg);
      env.DATABASE_URL = await createDatabase(pg.url, "event_hub");
      say(`postgres on ${env.DATABASE_URL} (data in .data/postgres)`);
    }
    if (!env.REDIS_URL) {
      const redis = await startRedis({ dataDir: path.join(dataDir, "redis"), port: Number(env.DEV_REDIS_PORT ?? 63799), persistent: true });
      started.push(redis);
      env.REDIS_URL = redis.url;
      say(`redis on ${env.REDIS_URL} (data in .data/redis)`);
    }
  } catch (error) {
    await stopAll();
    if (error instanceof MissingBinaryError) {
      process.stderr.write(`[dev] ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const result = await migrate(env.DATABASE_URL!, path.join(root, "prisma/migrations"));
  say(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);

  env.NODE_ENV ??= "development";
  env.FLOVI_WEBHOOK_SECRET ??= "dev-webhook-secret";
  env.ADMIN_TOKEN ??= "dev-admin-token-change-me";
  say(`api on http://127.0.0.1:${env.PORT ?? 3000}  (FLOVI_WEBHOOK_SECRET=${env.FLOVI_WEBHOOK_SECRET === "dev-webhook-secret" ? "dev-webhook-secret" : "<yours>"}, ADMIN_TOKEN=${env.ADMIN_TOKEN === "dev-admin-token-change-me" ? "dev-admin-token-change-me" : "<yours>"})`);

  const pretty = process.stdout.isTTY && env.LOG_FORMAT !== "json";
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), "all"], {
    env,
    stdio: ["ignore", pretty ? "pipe" : "inherit", "inherit"],
  });
  if (pretty && child.stdout) {
    const prettier = spawn(process.execPath, [path.join(root, "node_modules/pino-pretty/bin.js"), "--colorize", "--translateTime", "SYS:HH:MM:ss.l", "--ignore", "pid,hostname"], {
      stdio: ["pipe", "inherit", "inherit"],
    });
    child.stdout.pipe(prettier.stdin!);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping`);
    child.kill("SIGTERM");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  child.on("exit", async (code) => {
    await stopAll();
    say("stopped");
    process.exit(stopping ? 0 : (code ?? 1));
  });
}

main().catch(async (error: unknown) => {
  process.stderr.write(`[dev] ${(error as Error).stack ?? String(error)}\n`);
  await stopAll();
  process.exit(1);
});
