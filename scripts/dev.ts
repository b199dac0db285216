// npm run dev: the embedded default. Without DATABASE_URL / REDIS_URL it starts a private PostgreSQL and
// Redis under .data/ on loopback, applies migrations, then runs api + worker in one process with readable
// logs. While it runs, .data/dev.env holds the settings it made (the admin CLI and the demo read them).
// Ctrl-C stops everything it started.
//   npm run dev                  the service, providers' polling off until you set their credentials
//   npm run dev -- --simulate    also simulated MyFlyingBox and GreenFlow APIs, so polling can be tried locally
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { migrate } from "../src/db/migrate.js";
import { DEV_SETTINGS_FILE } from "../src/config/dev-settings.js";
import { createDatabase, freePort, MissingBinaryError, startPostgres, startRedis } from "./lib/local-services.js";
import { GREENFLOW_KEY, MFB_LOGIN, MFB_PASSWORD, startFakeGreenflow, startFakeMfb } from "./lib/fakes/providers.js";

const root = path.resolve(import.meta.dirname, "..");
const dataDir = path.join(root, ".data");
const settingsFile = path.join(root, DEV_SETTINGS_FILE);
const simulate = process.argv.includes("--simulate");
const started: { stop(): Promise<unknown> }[] = [];
const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);

async function stopAll() {
  rmSync(settingsFile, { force: true });
  for (const server of started.reverse()) await server.stop().catch(() => undefined);
}

function refuse(line: string): never {
  process.stderr.write(`[dev] ${line}\n`);
  process.exit(1);
}

/** Another `npm run dev` on this checkout is still running: its pid is in the settings file. */
function alreadyRunning(): { pid: number; api: string } | null {
  if (!existsSync(settingsFile)) return null;
  const values = Object.fromEntries(
    readFileSync(settingsFile, "utf8")
      .split("\n")
      .flatMap((l) => (/^(\w+)=(.*)$/.exec(l) ? [[RegExp.$1, RegExp.$2]] : [])),
  );
  const pid = Number(values.DEV_PID);
  try {
    process.kill(pid, 0);
    return { pid, api: `http://127.0.0.1:${values.PORT ?? 3000}` };
  } catch {
    rmSync(settingsFile, { force: true }); // left by a run that was killed
    return null;
  }
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

async function main() {
  const running = alreadyRunning();
  if (running) refuse(`npm run dev is already running here (pid ${running.pid}, api on ${running.api}); stop it first (Ctrl-C in its terminal)`);

  const env: Record<string, string | undefined> = { ...process.env };
  const port = Number(env.PORT ?? 3000);
  if (!(await portFree(port, env.HOST ?? "0.0.0.0"))) refuse(`port ${port} is in use: set PORT to a free port (PORT=3001 npm run dev)`);
  try {
    if (!env.DATABASE_URL) {
      // 0 picks a free port (README): Postgres itself cannot be told to.
      const pgPort = Number(env.DEV_POSTGRES_PORT ?? 54329) || (await freePort());
      if (!(await portFree(pgPort, "127.0.0.1")))
        refuse(`port ${pgPort} (local Postgres) is in use: set DEV_POSTGRES_PORT to a free port, or DATABASE_URL to your own database`);
      const pg = await startPostgres({ dataDir: path.join(dataDir, "postgres"), port: pgPort });
      started.push(pg);
      env.DATABASE_URL = await createDatabase(pg.url, "event_hub");
      say(`postgres on ${env.DATABASE_URL} (data in .data/postgres)`);
    }
    // A Redis of your own (one node, Sentinel or Cluster) is used as it is; otherwise a private one starts.
    if (!env.REDIS_URL && !env.REDIS_SENTINELS && !env.REDIS_CLUSTER_NODES) {
      const redisPort = Number(env.DEV_REDIS_PORT ?? 63799) || (await freePort());
      if (!(await portFree(redisPort, "127.0.0.1")))
        refuse(`port ${redisPort} (local Redis) is in use: set DEV_REDIS_PORT to a free port, or REDIS_URL to your own Redis`);
      const redis = await startRedis({ dataDir: path.join(dataDir, "redis"), port: redisPort, persistent: true });
      started.push(redis);
      env.REDIS_URL = redis.url;
      say(`redis on ${env.REDIS_URL} (data in .data/redis)`);
    }
  } catch (error) {
    await stopAll();
    if (error instanceof MissingBinaryError) refuse(error.message);
    throw error;
  }

  const result = await migrate(env.DATABASE_URL!, path.join(root, "prisma/migrations"));
  say(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);

  env.NODE_ENV ??= "development";
  // One readable line per delivery attempt: what went where, and what it answered.
  env.LOG_DELIVERY_OUTCOMES ??= "true";
  env.FLOVI_WEBHOOK_SECRET ??= "dev-webhook-secret";
  env.ADMIN_TOKEN ??= "dev-admin-token-change-me";
  env.PORT = String(port);

  if (simulate) {
    // DEV_SIMULATE_MFB_PORT / DEV_SIMULATE_GREENFLOW_PORT pin their ports (default 3101 and 3102), so a
    // provider URL written down yesterday still works today.
    const mfbPort = Number(env.DEV_SIMULATE_MFB_PORT ?? 3101);
    const greenflowPort = Number(env.DEV_SIMULATE_GREENFLOW_PORT ?? 3102);
    for (const [p, name] of [
      [mfbPort, "DEV_SIMULATE_MFB_PORT"],
      [greenflowPort, "DEV_SIMULATE_GREENFLOW_PORT"],
    ] as const) {
      if (!Number.isInteger(p) || p < 0 || p > 65535) refuse(`${name} must be a port number (0: any free port), not ${JSON.stringify(String(p))}`);
      if (p > 0 && !(await portFree(p, "127.0.0.1"))) refuse(`port ${p} (simulated provider) is in use: set ${name} to a free port (0: any free one)`);
    }
    const [mfb, greenflow] = await Promise.all([startFakeMfb({ simulate: true, port: mfbPort }), startFakeGreenflow({ simulate: true, port: greenflowPort })]);
    started.push({ stop: () => mfb.close() }, { stop: () => greenflow.close() });
    Object.assign(env, {
      MFB_API_BASE_URL: mfb.url,
      MFB_LOGIN,
      MFB_PASSWORD,
      GREENFLOW_API_BASE_URL: greenflow.url,
      GREENFLOW_API_KEY: GREENFLOW_KEY,
      MFB_POLL_INTERVAL_MS: env.MFB_POLL_INTERVAL_MS ?? "5000",
      GREENFLOW_POLL_INTERVAL_MS: env.GREENFLOW_POLL_INTERVAL_MS ?? "5000",
      POLL_SWEEP_INTERVAL_MS: env.POLL_SWEEP_INTERVAL_MS ?? "2000",
    });
    say(`simulated MyFlyingBox on ${mfb.url} and GreenFlow on ${greenflow.url}: any order id, and any booking code with any`);
    say("lastname, exists; an order moves one carrier step every 10 s, a booking is cancelled after 30 s");
  }

  mkdirSync(dataDir, { recursive: true });
  const keep = [
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_CLUSTER_NODES",
    "PORT",
    "ADMIN_TOKEN",
    "FLOVI_WEBHOOK_SECRET",
    "QUEUE_PREFIX",
  ];
  writeFileSync(
    settingsFile,
    `# written by npm run dev while it runs; removed when it stops\nDEV_PID=${process.pid}\n${keep
      .filter((k) => env[k])
      .map((k) => `${k}=${env[k]}`)
      .join("\n")}\n`,
  );
  say(`api on http://127.0.0.1:${port}  (FLOVI_WEBHOOK_SECRET=${env.FLOVI_WEBHOOK_SECRET}, ADMIN_TOKEN=${env.ADMIN_TOKEN}; settings in ${DEV_SETTINGS_FILE})`);

  // Readable logs (one line per event) unless LOG_FORMAT=json; JSON stays the default everywhere else.
  const pretty = env.LOG_FORMAT !== "json";
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts"), "all"], {
    env,
    stdio: ["ignore", pretty ? "pipe" : "inherit", "inherit"],
  });
  if (pretty && child.stdout) {
    const prettier = spawn(
      process.execPath,
      [
        path.join(root, "node_modules/pino-pretty/bin.js"),
        ...(process.stdout.isTTY ? ["--colorize"] : ["--no-colorize"]),
        "--translateTime",
        "SYS:HH:MM:ss.l",
        "--ignore",
        "pid,hostname,req,res,responseTime",
        "--singleLine",
        "--messageFormat",
        "{if req.method}{req.method} {req.url} → {res.statusCode} ({responseTime} ms) {end}{msg}",
      ],
      { stdio: ["pipe", "inherit", "inherit"] },
    );
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
  process.stderr.write(`[dev] ${(error as Error).message ?? String(error)}\n`);
  await stopAll();
  process.exit(1);
});
