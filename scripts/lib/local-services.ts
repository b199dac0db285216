// Private PostgreSQL and Redis servers on loopback, for the dev runner, the test harness, the demo and
// the fault suite. Nothing here is used by the service itself.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import pg from "pg";

export class MissingBinaryError extends Error {}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `n` distinct free ports: every socket stays open until all are taken, so the system cannot hand the same
 * port out twice (as separate freePort() calls may, once the first one's socket is closed).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.unref();
          server.on("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

export function postgresBinDir(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // pg_config is optional: fall back to Debian's versioned layout.
  }
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  const dir = candidates.find((d) => existsSync(path.join(d, "initdb")) && existsSync(path.join(d, "postgres")));
  if (!dir) {
    throw new MissingBinaryError(
      "PostgreSQL server binaries (initdb, postgres) not found. Install them with " +
        "`apt-get install -y postgresql` (Debian/Ubuntu) or `brew install postgresql@15` (macOS), " +
        "or set DATABASE_URL to an existing database.",
    );
  }
  return dir;
}

export function redisBinary(): string {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
  } catch {
    throw new MissingBinaryError(
      "redis-server not found on PATH. Install it with `apt-get install -y redis-server` (Debian/Ubuntu) " +
        "or `brew install redis` (macOS), or set REDIS_URL to an existing Redis.",
    );
  }
}

/** PostgreSQL refuses to run as root: when we are root, the server runs as the `postgres` user. */
export function postgresIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new MissingBinaryError("Running as root, PostgreSQL needs a `postgres` user: `useradd --system --user-group postgres`.");
  }
}

export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves true once a connection to `url` opens (and closes it); rejects otherwise. */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 500 });
  await client.connect();
  await client.end();
  return true;
}

/** Polls `probe` until it holds; fails at once if `child` (the process being waited for, when there is one) exits. */
export async function waitUntil(probe: () => Promise<boolean>, what: string, timeoutMs: number, child?: ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited during start-up with code ${child.exitCode}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

export interface LocalServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (fast shutdown); the data directory stays for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  readonly running: boolean;
  /** The server's process id while it runs (the postmaster, for PostgreSQL). */
  readonly pid: number | undefined;
}

export interface PostgresOptions {
  dataDir: string;
  port?: number;
  /** Test clusters trade durability for speed (fsync off). */
  ephemeral?: boolean;
  /** Extra `-c name=value` server settings (benchmarks load pg_stat_statements). */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

export async function startPostgres(opts: PostgresOptions): Promise<LocalServer> {
  const bin = postgresBinDir();
  const owner = postgresIdentity();
  const port = opts.port ?? (await freePort());
  const dataDir = path.resolve(opts.dataDir);
  const socketDir = path.join(dataDir, "socket");
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};

  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    const parent = path.dirname(dataDir);
    mkdirSync(parent, { recursive: true });
    // The postgres user must be able to reach its data directory through the parent.
    if (owner && (statSync(parent).mode & 0o001) === 0) chmodSync(parent, 0o755);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(dataDir, owner.uid, owner.gid);
    execFileSync(
      path.join(bin, "initdb"),
      ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", ...(opts.ephemeral ? ["--no-sync"] : [])],
      { ...spawnAs, stdio: "pipe" },
    );
  }
  mkdirSync(socketDir, { recursive: true });
  if (owner) chownSync(socketDir, owner.uid, owner.gid);

  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  const server: LocalServer = {
    url,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    async start() {
      const args = ["-D", dataDir, "-p", String(port), "-k", socketDir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"];
      if (opts.ephemeral) args.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
      for (const [name, value] of Object.entries(opts.settings ?? {})) args.push("-c", `${name}=${value}`);
      child = spawn(path.join(bin, "postgres"), args, { ...spawnAs, stdio: ["ignore", "pipe", "pipe"] });
      const proc = child;
      proc.stderr?.on("data", (b: Buffer) => opts.log?.(b.toString()));
      proc.stdout?.on("data", (b: Buffer) => opts.log?.(b.toString()));
      await waitUntil(() => canConnect(url), "postgres", 30_000, proc);
    },
    async stop() {
      if (!child || !server.running) return;
      const proc = child;
      proc.kill("SIGINT"); // fast shutdown: aborts open transactions, checkpoints, exits
      await waitForExit(proc, 15_000);
    },
  };
  await server.start();
  return server;
}

export interface RedisOptions {
  dataDir: string;
  port?: number;
  /** Persist with an append-only file (dev); tests run without persistence. */
  persistent?: boolean;
  log?: (line: string) => void;
}

export async function startRedis(opts: RedisOptions): Promise<LocalServer> {
  const binary = redisBinary();
  const port = opts.port ?? (await freePort());
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const server: LocalServer = {
    url,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    async start() {
      const conf = [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dataDir}`,
        "maxmemory-policy noeviction",
        opts.persistent ? "appendonly yes" : "appendonly no",
        'save ""',
        "daemonize no",
        "loglevel warning",
      ].join("\n");
      const confFile = path.join(dataDir, "redis.conf");
      writeFileSync(confFile, `${conf}\n`);
      child = spawn(binary, [confFile], { stdio: ["ignore", "pipe", "pipe"] });
      const proc = child;
      proc.stdout?.on("data", (b: Buffer) => opts.log?.(b.toString()));
      proc.stderr?.on("data", (b: Buffer) => opts.log?.(b.toString()));
      await waitUntil(() => redisPing(port), "redis-server", 15_000, proc);
    },
    async stop() {
      if (!child || !server.running) return;
      const proc = child;
      proc.kill("SIGTERM");
      await waitForExit(proc, 10_000);
    },
  };
  await server.start();
  return server;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(500);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (b) => {
      socket.destroy();
      resolve(b.toString().startsWith("+PONG"));
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A URL for another database on the same server. */
function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function createDatabase(serverUrl: string, name: string, template?: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ""}`);
    }
  } finally {
    await client.end();
  }
  return databaseUrl(serverUrl, name);
}
