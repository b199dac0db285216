// Shared bench plumbing: private Postgres + Redis (durable settings, fsync on), child processes, printing.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus, totalmem } from "node:os";
import path from "node:path";
import { migrate } from "../src/db/migrate.js";
import { createDatabase, freePort, startPostgres, startRedis, type LocalServer } from "../scripts/lib/local-services.js";

export const root = path.resolve(import.meta.dirname, "..");

export interface BenchEnv {
  databaseUrl: string;
  redisUrl: string;
  servers: LocalServer[];
  cleanup(): Promise<void>;
}

export async function benchServices(): Promise<BenchEnv> {
  const dir = mkdtempSync(path.join(tmpdir(), "hub-bench-"));
  chmodSync(dir, 0o755);
  const [pg, redis] = await Promise.all([startPostgres({ dataDir: path.join(dir, "pg") }), startRedis({ dataDir: path.join(dir, "redis") })]);
  const databaseUrl = await createDatabase(pg.url, "bench");
  await migrate(databaseUrl, path.join(root, "prisma/migrations"));
  return {
    databaseUrl,
    redisUrl: redis.url,
    servers: [pg, redis],
    async cleanup() {
      await Promise.allSettled([pg.stop(), redis.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a TS entry point; ready when its stdout shows `readyText`, or when `readyProbe` answers true. */
export async function spawnNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  readyText: string,
  readyProbe?: () => Promise<boolean>,
): Promise<ChildProcess> {
  // PROFILE_DIR=/tmp/prof writes a V8 CPU profile of the api/worker children (open in Chrome DevTools).
  const profile = process.env.PROFILE_DIR && script.startsWith("src/") ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", path.join(root, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    const onData = (b: Buffer) => {
      seen += b.toString();
      if (seen.includes(readyText)) {
        // From here on the output is discarded (but drained, so the child never blocks on a full pipe).
        seen = "";
        resolve();
      }
      if (seen.length > 1_000_000) seen = seen.slice(-10_000);
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
    if (readyProbe) {
      const poll = async () => {
        if (await readyProbe().catch(() => false)) resolve();
        else setTimeout(poll, 100);
      };
      void poll();
    }
  });
  return child;
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

export { freePort };

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
