// The production topologies on loopback, for the tests, the fault suite and the benches: a Redis Cluster
// (with or without a replica per master), a Sentinel-managed primary and replica, and PgBouncer in
// transaction mode in front of a Postgres. Nothing here is used by the service itself.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { freePort, freePorts, MissingBinaryError, postgresIdentity, redisBinary, waitForExit, waitUntil } from "./local-services.js";

/** One redis-server (data node or sentinel) that a scenario can kill and start again. */
export interface RedisNode {
  readonly port: number;
  readonly running: boolean;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGKILL: the crash a failover is for (no shutdown save, no goodbye to the replicas). */
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** The last lines it printed (a sentinel logs its events, +tilt or +failover-abort-*, at this level). */
  recentOutput(): string;
}

/** How set-up probes reach a node that wants a password or TLS. */
interface NodeAccess {
  password?: string;
  /** PEM of the CA that signed the node's certificate: the node listens with TLS only. */
  tlsCa?: string;
}

function redisNode(dir: string, port: number, lines: string[], sentinel = false, access: NodeAccess = {}): RedisNode {
  mkdirSync(dir, { recursive: true });
  const confFile = path.join(dir, "redis.conf");
  // Sentinels rewrite their file (what they learnt): written once, kept across restarts.
  writeFileSync(
    confFile,
    `${[
      ...(access.tlsCa ? ["port 0", `tls-port ${port}`] : [`port ${port}`]),
      "bind 127.0.0.1",
      `dir ${dir}`,
      "daemonize no",
      "loglevel warning",
      'save ""',
      "appendonly no",
      ...lines,
    ].join("\n")}\n`,
  );
  let child: ChildProcess | undefined;
  // What it printed, for the error when it does not start (a port taken, say) or a failover that does not happen.
  let output = "";
  const node: RedisNode = {
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    async start() {
      child = spawn(redisBinary(), [confFile, ...(sentinel ? ["--sentinel"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
      const proc = child;
      const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4_000));
      proc.stdout?.on("data", keep);
      proc.stderr?.on("data", keep);
      await waitUntil(async () => (await command(port, ["PING"], access)) === "PONG", sentinel ? "redis-sentinel" : "redis-server", 15_000, proc).catch(
        (error: Error) => {
          throw new Error(`${error.message} (port ${port}): ${output.trim().split("\n").slice(-3).join(" | ") || "no output"}`);
        },
      );
    },
    async kill() {
      if (!child || !node.running) return;
      child.kill("SIGKILL");
      await waitForExit(child, 5_000);
    },
    async stop() {
      if (!child || !node.running) return;
      child.kill("SIGTERM");
      await waitForExit(child, 10_000);
    },
    recentOutput: () => output.trim().split("\n").slice(-8).join("\n"),
  };
  return node;
}

const commandOn = (port: number, args: string[], access: NodeAccess) => command(port, args, access);

/** One command on a short-lived connection (no reconnects, no retries): for set-up and probes. */
async function command(port: number, args: string[], access: NodeAccess = {}): Promise<unknown> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    ...(access.password ? { password: access.password } : {}),
    ...(access.tlsCa ? { tls: { ca: access.tlsCa } } : {}),
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

export interface RedisCluster {
  /** REDIS_CLUSTER_NODES for the service: every master's address. */
  readonly nodesEnv: string;
  readonly nodes: RedisNode[];
  /** The port of the master that serves a key's slot now. */
  masterFor(key: string): Promise<number>;
  /** Resolves once every slot is served again (cluster_state:ok seen from every running node). */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `masters` masters (3 at least: a cluster needs a majority of masters to fail one over), each with
 * `replicas` replicas; node timeout 1 s so a killed master's replica takes over in ≈ 2-3 s.
 */
export async function startRedisCluster(opts: { dataDir: string; masters?: number; replicas?: number; password?: string }): Promise<RedisCluster> {
  const access: NodeAccess = { password: opts.password };
  const command = (port: number, args: string[]) => commandOn(port, args, access);
  const masters = opts.masters ?? 3;
  const total = masters * (1 + (opts.replicas ?? 0));
  // The cluster bus defaults to port + 10000, which is past 65535 (or taken) for a high ephemeral port: each
  // node gets a free bus port of its own. All of them at once, so that no two are the same.
  const all = await freePorts(total * 2);
  const ports = all.slice(0, total);
  const busPorts = all.slice(total);
  const nodes = ports.map((port, i) =>
    redisNode(
      path.join(opts.dataDir, `node-${port}`),
      port,
      [
        "cluster-enabled yes",
        `cluster-port ${busPorts[i]}`,
        "cluster-config-file nodes.conf",
        "cluster-node-timeout 1000",
        "cluster-replica-validity-factor 0",
        "maxmemory-policy noeviction",
        ...(opts.password ? [`requirepass ${opts.password}`, `masterauth ${opts.password}`] : []),
      ],
      false,
      access,
    ),
  );
  await Promise.all(nodes.map((n) => n.start()));
  const cli = execFileSync("sh", ["-c", "command -v redis-cli || true"], { encoding: "utf8" }).trim();
  if (!cli) throw new MissingBinaryError("redis-cli not found (it comes with `apt-get install -y redis-server`)");
  execFileSync(
    cli,
    [
      ...(opts.password ? ["-a", opts.password, "--no-auth-warning"] : []),
      "--cluster",
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas",
      String(opts.replicas ?? 0),
      "--cluster-yes",
    ],
    { stdio: "pipe" },
  );

  const cluster: RedisCluster = {
    nodes,
    get nodesEnv() {
      return ports
        .slice(0, masters)
        .map((p) => `127.0.0.1:${p}`)
        .join(",");
    },
    async masterFor(key) {
      const live = nodes.find((n) => n.running)!;
      const slot = Number(await command(live.port, ["CLUSTER", "KEYSLOT", key]));
      const shards = (await command(live.port, ["CLUSTER", "SLOTS"])) as [number, number, [string, number]][];
      const owner = shards.find(([from, to]) => slot >= from && slot <= to);
      if (!owner) throw new Error(`no master serves slot ${slot}`);
      return Number(owner[2][1]);
    },
    async healthy(timeoutMs = 20_000) {
      await until(
        async () => {
          for (const node of nodes.filter((n) => n.running)) {
            const info = String(await command(node.port, ["CLUSTER", "INFO"]));
            if (!info.includes("cluster_state:ok")) return false;
          }
          return true;
        },
        "the Redis Cluster did not serve every slot",
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  await cluster.healthy();
  // Replicas report in after the create: wait until each master has its replicas, so a failover can happen.
  if (opts.replicas) {
    await until(
      async () => {
        const lines = String(await command(ports[0]!, ["CLUSTER", "NODES"]))
          .trim()
          .split("\n");
        return lines.filter((l) => l.includes("slave") && !l.includes("fail")).length === total - masters;
      },
      "the cluster's replicas did not attach",
      20_000,
    );
  }
  return cluster;
}

const SENTINEL_MASTER = "hubmaster";

export interface RedisSentinelSet {
  /** REDIS_SENTINELS for the service. */
  readonly sentinelsEnv: string;
  readonly master: string;
  readonly primary: RedisNode;
  readonly replica: RedisNode;
  readonly sentinels: RedisNode[];
  /** The port the sentinels name as the master now. */
  currentMaster(): Promise<number>;
  /** What each sentinel thinks (tilt, the master's flags, failover state) and last printed: for a failover that does not come. */
  describe(): Promise<string>;
  stop(): Promise<void>;
}

/** A primary, one replica and three sentinels (quorum 2, down after 1 s): what a Sentinel HA setup runs. */
export async function startRedisSentinel(opts: { dataDir: string; password?: string; sentinelPassword?: string }): Promise<RedisSentinelSet> {
  const [primaryPort, replicaPort, ...sentinelPorts] = await freePorts(5);
  const auth = opts.password ? [`requirepass ${opts.password}`, `masterauth ${opts.password}`] : [];
  const dataAccess: NodeAccess = { password: opts.password };
  const sentinelAccess: NodeAccess = { password: opts.sentinelPassword };
  const command = (port: number, args: string[]) => commandOn(port, args, sentinelAccess);
  const primary = redisNode(path.join(opts.dataDir, "primary"), primaryPort!, ["maxmemory-policy noeviction", ...auth], false, dataAccess);
  const replica = redisNode(
    path.join(opts.dataDir, "replica"),
    replicaPort!,
    ["maxmemory-policy noeviction", `replicaof 127.0.0.1 ${primaryPort}`, ...auth],
    false,
    dataAccess,
  );
  await primary.start();
  await replica.start();
  const sentinels = sentinelPorts.map((port) =>
    redisNode(
      path.join(opts.dataDir, `sentinel-${port}`),
      port,
      [
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        ...(opts.password ? [`sentinel auth-pass ${SENTINEL_MASTER} ${opts.password}`] : []),
        ...(opts.sentinelPassword ? [`requirepass ${opts.sentinelPassword}`, `sentinel sentinel-pass ${opts.sentinelPassword}`] : []),
      ],
      true,
      sentinelAccess,
    ),
  );
  await Promise.all(sentinels.map((s) => s.start()));
  // A failover needs every sentinel to know the replica and the other sentinels (found through hello messages).
  await until(
    async () => {
      for (const s of sentinels) {
        const replicas = (await command(s.port, ["SENTINEL", "REPLICAS", SENTINEL_MASTER])) as unknown[];
        const peers = (await command(s.port, ["SENTINEL", "SENTINELS", SENTINEL_MASTER])) as unknown[];
        if (replicas.length < 1 || peers.length < sentinels.length - 1) return false;
      }
      return true;
    },
    "the sentinels did not find the replica and each other",
    30_000,
  );
  return {
    sentinelsEnv: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(","),
    master: SENTINEL_MASTER,
    primary,
    replica,
    sentinels,
    async currentMaster() {
      const s = sentinels.find((n) => n.running)!;
      const [, port] = (await command(s.port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER])) as [string, string];
      return Number(port);
    },
    async describe() {
      const views = await Promise.all(
        sentinels.map(async (s) => {
          if (!s.running) return `sentinel ${s.port}: not running`;
          const field = (pairs: unknown, name: string) => {
            const list = pairs as string[];
            const at = list.indexOf(name);
            return at < 0 ? undefined : list[at + 1];
          };
          const view = await Promise.all([
            command(s.port, ["INFO", "sentinel"]).then((info) => /sentinel_tilt:(\d)/.exec(String(info))?.[1] ?? "?"),
            command(s.port, ["SENTINEL", "MASTER", SENTINEL_MASTER]),
          ]).then(
            ([tilt, master]) =>
              `tilt ${tilt}, master ${field(master, "port")} flags ${field(master, "flags")} failover ${field(master, "failover-state") ?? "none"}`,
            (error: Error) => `unreadable (${error.message})`,
          );
          return `sentinel ${s.port}: ${view}\n    ${s.recentOutput().replaceAll("\n", "\n    ")}`;
        }),
      );
      return views.join("\n");
    },
    async stop() {
      await Promise.all([...sentinels, replica, primary].map((n) => n.stop()));
    },
  };
}

export interface PgBouncer {
  readonly port: number;
  readonly pid: number | undefined;
  /** The same database, through the bouncer. */
  route(databaseUrl: string): string;
  stop(): Promise<void>;
}

/**
 * PgBouncer in transaction mode in front of `postgresPort`, every database, pool of `poolSize` per database.
 * `serverIdleTimeoutS` closes a server connection idle that long (PgBouncer's default: 600 s). The test suite
 * sets it low: every test context has a database of its own, and each database's idle pool would otherwise
 * hold its connections for ten minutes, until PostgreSQL's max_connections answers "too many clients".
 */
export async function startPgBouncer(opts: { dataDir: string; postgresPort: number; poolSize?: number; serverIdleTimeoutS?: number }): Promise<PgBouncer> {
  const binary = execFileSync("sh", ["-c", "command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null || true"], { encoding: "utf8" }).trim();
  if (!binary) throw new MissingBinaryError("pgbouncer not found: `apt-get install -y pgbouncer` (Debian/Ubuntu) or `brew install pgbouncer`");
  const port = await freePort();
  const dir = path.resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true });
  const owner = postgresIdentity(); // it refuses to run as root, like PostgreSQL
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const ini = path.join(dir, "pgbouncer.ini");
  writeFileSync(
    ini,
    `${[
      "[databases]",
      `* = host=127.0.0.1 port=${opts.postgresPort} user=postgres`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "max_client_conn = 2000",
      `default_pool_size = ${opts.poolSize ?? 20}`,
      `server_idle_timeout = ${opts.serverIdleTimeoutS ?? 600}`,
      "ignore_startup_parameters = extra_float_digits,options",
      "server_reset_query =",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      "log_connections = 0",
      "log_disconnections = 0",
    ].join("\n")}\n`,
  );
  const child = spawn(binary, [ini], { stdio: "ignore", ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) });
  await waitUntil(
    async () => {
      const client = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 500 });
      await client.connect();
      await client.end();
      return true;
    },
    "pgbouncer",
    15_000,
    child,
  );
  return {
    port,
    pid: child.pid,
    route(databaseUrl) {
      const url = new URL(databaseUrl);
      url.port = String(port);
      return url.toString();
    },
    async stop() {
      child.kill("SIGTERM");
      await waitForExit(child, 10_000);
    },
  };
}

/**
 * A round-robin TCP balancer on loopback, as an L4 load balancer (haproxy in tcp mode) would do: each new
 * client connection goes to the next live backend; a backend that refuses the connection is skipped.
 */
export async function startBalancer(backends: () => number[]): Promise<net.Server> {
  let next = 0;
  const server = net.createServer((client) => {
    client.pause();
    client.on("error", () => undefined);
    const ports = backends();
    const attempt = (tries: number) => {
      if (tries >= ports.length) return client.destroy();
      const upstream = net.connect(ports[next++ % ports.length]!, "127.0.0.1");
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        client.pipe(upstream).on("error", () => undefined);
        upstream.pipe(client);
        client.resume();
      });
      upstream.on("error", () => (connected ? client.destroy() : attempt(tries + 1)));
      upstream.on("close", () => {
        if (connected) client.destroy();
      });
      client.once("close", () => upstream.destroy());
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** A single node that wants a password and/or speaks TLS only (certificates from `tlsFiles`). */
export async function startSecuredRedis(opts: { dataDir: string; password?: string; tls?: TlsFiles }): Promise<{ node: RedisNode; port: number }> {
  const port = await freePort();
  const lines = [
    "maxmemory-policy noeviction",
    ...(opts.password ? [`requirepass ${opts.password}`] : []),
    ...(opts.tls ? [`tls-cert-file ${opts.tls.cert}`, `tls-key-file ${opts.tls.key}`, `tls-ca-cert-file ${opts.tls.ca}`, "tls-auth-clients no"] : []),
  ];
  const { readFileSync } = await import("node:fs");
  const node = redisNode(path.join(opts.dataDir, `secured-${port}`), port, lines, false, {
    password: opts.password,
    tlsCa: opts.tls ? readFileSync(opts.tls.ca, "utf8") : undefined,
  });
  await node.start();
  return { node, port };
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** A throwaway CA and a certificate for 127.0.0.1 / localhost signed by it (openssl). */
export function tlsFiles(dir: string): TlsFiles {
  mkdirSync(dir, { recursive: true });
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=hub-test-ca");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=127.0.0.1");
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.pem"),
    "-days",
    "2",
    "-extfile",
    f("ext.cnf"),
  );
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

export interface LoadBalancer {
  readonly port: number;
  /** The balancer's own process (haproxy), when it runs as one. */
  readonly pid: number | undefined;
  readonly kind: "haproxy" | "node";
  stop(): Promise<void>;
}

/**
 * An HTTP load balancer in front of api processes on loopback: haproxy (round robin, a backend taken out while
 * its GET /readyz is not 200) when it is installed, else the in-process TCP balancer above.
 */
export async function startLoadBalancer(opts: { dataDir: string; backends: number[] }): Promise<LoadBalancer> {
  const binary = execFileSync("sh", ["-c", "command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null || true"], { encoding: "utf8" }).trim();
  if (!binary) {
    const server = await startBalancer(() => opts.backends);
    return { port: (server.address() as net.AddressInfo).port, pid: undefined, kind: "node", stop: async () => void server.close() };
  }
  const port = await freePort();
  mkdirSync(opts.dataDir, { recursive: true });
  const cfg = path.join(opts.dataDir, "haproxy.cfg");
  writeFileSync(
    cfg,
    `${[
      "global",
      "  maxconn 4096",
      "defaults",
      "  mode http",
      "  option http-keep-alive",
      "  timeout connect 2s",
      "  timeout client 60s",
      "  timeout server 60s",
      "frontend hub",
      `  bind 127.0.0.1:${port}`,
      "  default_backend apis",
      "backend apis",
      "  balance roundrobin",
      "  option httpchk GET /readyz",
      "  http-check expect status 200",
      ...opts.backends.map((p, i) => `  server api${i} 127.0.0.1:${p} check inter 1s fall 2 rise 1`),
    ].join("\n")}\n`,
  );
  const child = spawn(binary, ["-f", cfg, "-db"], { stdio: "ignore" });
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, "haproxy", 15_000, child);
  return {
    port,
    pid: child.pid,
    kind: "haproxy",
    async stop() {
      child.kill("SIGTERM");
      await waitForExit(child, 5_000);
    },
  };
}
