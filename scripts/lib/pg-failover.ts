// A Postgres primary with a streaming standby behind HAProxy, on loopback, for the fault suite
// (test/faults/failover.test.ts) and docs/operations.md's "Postgres with a standby": the topology teams run with
// Patroni, RDS Multi-AZ or Cloud SQL HA, built from Debian's packages. Nothing here is used by the service.
//   - the primary streams to the standby; with `synchronous: true` it names it in `synchronous_standby_names`
//     (on the primary's command line alone: a standby that copied the setting would wait for a standby of its
//     own on every commit once promoted) and commits only once the standby has the WAL (`synchronous_commit=on`);
//   - HAProxy checks both with `option pgsql-check`, which cannot tell a primary from a standby, so the standby
//     is a `backup` server: used only while the primary's check fails;
//   - `killPrimary()` is a crash (SIGKILL of the postmaster), `promote()` is what the failover manager does.
import { execFileSync, spawn } from "node:child_process";
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import {
  canConnect,
  freePort,
  MissingBinaryError,
  postgresBinDir,
  postgresIdentity,
  startPostgres,
  waitForExit,
  waitUntil,
  type LocalServer,
} from "./local-services.js";

export interface PostgresPair {
  primary: LocalServer;
  standby: LocalServer;
  /** A URL to `database` through HAProxy: what the service is given. */
  url(database: string): string;
  /** The primary crashes as its machine would: every one of its processes SIGKILLed at once (the WAL sender too). */
  killPrimary(): Promise<void>;
  /** The standby becomes the primary (`pg_promote()`, waiting until it accepts writes). */
  promote(): Promise<void>;
  /**
   * The standby loses its replication connection and cannot make another (the primary's pg_hba.conf rejects
   * it from now on): a standby cut off, as by a network partition. A synchronous primary waits for it
   * meanwhile; an asynchronous one goes on committing what the standby will never get.
   */
  cutOffStandby(): Promise<void>;
  stop(): Promise<void>;
}

const STANDBY_NAME = "hub_standby";

export async function startPostgresPair(opts: { dataDir: string; synchronous: boolean }): Promise<PostgresPair> {
  const owner = postgresIdentity();
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  // fsync off keeps the suite fast; the guarantee under test is the standby's acknowledgement, not the disk's.
  const common = { fsync: "off", full_page_writes: "off", wal_level: "replica", max_wal_senders: "5", hot_standby: "on" };
  const primary = await startPostgres({
    dataDir: path.join(opts.dataDir, "primary"),
    settings: { ...common, synchronous_commit: "on", ...(opts.synchronous ? { synchronous_standby_names: `FIRST 1 (${STANDBY_NAME})` } : {}) },
  });
  const standbyDir = path.join(opts.dataDir, "standby");
  mkdirSync(standbyDir, { recursive: true, mode: 0o700 });
  if (owner) chownSync(standbyDir, owner.uid, owner.gid);
  // A copy of the primary that follows it: `-R` writes primary_conninfo and standby.signal.
  execFileSync(
    path.join(postgresBinDir(), "pg_basebackup"),
    ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres", "-D", standbyDir, "-R", "-X", "stream", "--checkpoint=fast"],
    { ...spawnAs, stdio: "pipe" },
  );
  // cluster_name is the name the standby reports (its application_name), the one the primary waits for.
  const standby = await startPostgres({ dataDir: standbyDir, settings: { ...common, cluster_name: STANDBY_NAME } });
  const query = async (server: LocalServer, sql: string) => {
    const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 1_000 });
    await client.connect();
    try {
      return (await client.query(sql)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  await waitUntil(
    async () => (await query(primary, "SELECT sync_state FROM pg_stat_replication")).some((r) => r.sync_state === (opts.synchronous ? "sync" : "async")),
    "the standby streaming",
    30_000,
  ).catch(async (error: unknown) => {
    await Promise.allSettled([standby.stop(), primary.stop()]);
    throw error;
  });

  const port = await freePort();
  const cfg = path.join(opts.dataDir, "haproxy.cfg");
  writeFileSync(
    cfg,
    `${[
      "global",
      "  maxconn 2000",
      "defaults",
      "  mode tcp",
      "  timeout connect 1s",
      "  timeout client 1h",
      "  timeout server 1h",
      "  timeout check 1s",
      "frontend postgres",
      `  bind 127.0.0.1:${port}`,
      "  default_backend postgres",
      "backend postgres",
      "  option pgsql-check user postgres",
      // A server that fails two checks half a second apart is out; its sessions are cut (they would hang).
      "  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions",
      `  server primary 127.0.0.1:${primary.port} check`,
      `  server standby 127.0.0.1:${standby.port} check backup`,
    ].join("\n")}\n`,
  );
  const binary = execFileSync("sh", ["-c", "command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null || true"], { encoding: "utf8" }).trim();
  if (!binary) throw new MissingBinaryError("haproxy not found: apt-get install -y haproxy");
  const haproxy = spawn(binary, ["-f", cfg, "-db"], { stdio: "ignore" });
  const viaProxy = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  await waitUntil(() => canConnect(viaProxy), "haproxy", 15_000, haproxy);

  return {
    primary,
    standby,
    url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async killPrimary() {
      const postmaster = primary.pid;
      if (!postmaster) return;
      // Its children first, then itself: a WAL sender left alive would go on streaming what was committed.
      for (const pid of childrenOf(postmaster)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // It ended on its own meanwhile (a backend whose client left).
        }
      }
      process.kill(postmaster, "SIGKILL");
      await waitUntil(async () => !primary.running, "the primary to die", 10_000);
    },
    async promote() {
      await query(standby, "SELECT pg_promote(true, 30)");
      await waitUntil(async () => (await query(standby, "SELECT pg_is_in_recovery() AS r"))[0]?.r === false, "the promotion", 30_000);
    },
    async cutOffStandby() {
      const hba = path.join(opts.dataDir, "primary", "pg_hba.conf");
      writeFileSync(hba, `host replication all 0.0.0.0/0 reject\n${readFileSync(hba, "utf8")}`);
      await query(primary, "SELECT pg_reload_conf()");
      const rows = await query(primary, "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_replication");
      if (Number(rows[0]?.n) === 0) throw new Error("no standby was streaming");
    },
    async stop() {
      haproxy.kill("SIGTERM");
      await waitForExit(haproxy, 5_000);
      await Promise.allSettled([standby.stop(), primary.stop()]);
    },
  };
}

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // The fields after the command name (which may hold spaces): state, then the parent's pid.
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}
