// Private RabbitMQ and NATS (JetStream) servers on loopback, for the broker-destination tests and benchmarks
// (Debian's rabbitmq-server and nats-server). Nothing here is used by the service itself.
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import amqp from "amqplib";
import { connect } from "nats";
import { freePorts, type LocalServer, MissingBinaryError, waitForExit, waitUntil } from "./local-services.js";

const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";

function binary(candidates: string[], install: string): string {
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new MissingBinaryError(`${path.basename(candidates[0]!)} not found: ${install}`);
  return found;
}

/** Stops a process group (the broker's start script and what it started), killing it after 15 s. */
async function stopGroup(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      child.kill(name);
    }
  };
  signal("SIGTERM");
  const killer = setTimeout(() => signal("SIGKILL"), 15_000);
  await waitForExit(child, 20_000);
  clearTimeout(killer);
  // The broker itself (a child of the start script) may outlive the script by a moment: wait for the group.
  for (const until = Date.now() + 15_000; Date.now() < until; ) {
    try {
      process.kill(-child.pid!, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  signal("SIGKILL");
}

/** A broker process of its own: started (as its own process group) and probed until ready; stop() ends the group. */
function brokerProcess(spec: {
  url: string;
  port: number;
  command: string;
  args: string[];
  spawnOptions: SpawnOptions;
  what: string;
  readyWithinMs: number;
  ready: () => Promise<boolean>;
  log?: (line: string) => void;
  afterStop?: () => void;
}): LocalServer {
  let child: ChildProcess | undefined;
  return {
    url: spec.url,
    port: spec.port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    async start() {
      child = spawn(spec.command, spec.args, { ...spec.spawnOptions, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout?.on("data", (b: Buffer) => spec.log?.(b.toString()));
      child.stderr?.on("data", (b: Buffer) => spec.log?.(b.toString()));
      await waitUntil(spec.ready, spec.what, spec.readyWithinMs, child);
    },
    async stop() {
      await stopGroup(child);
      spec.afterStop?.();
    },
  };
}

export interface BrokerOptions {
  dataDir: string;
  log?: (line: string) => void;
}

/**
 * A RabbitMQ node of its own (its own node name, ports and Erlang port mapper), a user `hub` with a random
 * password; `url` is its AMQP URL with the credentials. Ready in about 4 s. stop()/start() keep its data
 * (durable exchanges, queues and persistent messages survive a restart).
 */
export async function startRabbitMq(opts: BrokerOptions): Promise<LocalServer> {
  const server = binary([RABBITMQ_SERVER], "apt-get install -y rabbitmq-server");
  const [port, distPort, epmdPort] = await freePorts(3);
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path.join(dataDir, "enabled_plugins"), "[].\n");
  // A user of its own with a password no test could mistake for anything else (credentials must be masked).
  const password = `pw-${randomBytes(6).toString("hex")}`;
  writeFileSync(
    path.join(dataDir, "rabbitmq.conf"),
    ["log.console = true", "log.console.level = warning", "log.file = false", "default_user = hub", `default_pass = ${password}`, ""].join("\n"),
  );
  const url = `amqp://hub:${password}@127.0.0.1:${port}`;
  const env = {
    ...process.env,
    HOME: dataDir,
    RABBITMQ_NODENAME: `hub${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_MNESIA_BASE: path.join(dataDir, "mnesia"),
    RABBITMQ_LOG_BASE: path.join(dataDir, "log"),
    RABBITMQ_CONFIG_FILE: path.join(dataDir, "rabbitmq"),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dataDir, "enabled_plugins"),
    RABBITMQ_PID_FILE: path.join(dataDir, "rabbitmq.pid"),
  };
  const broker = brokerProcess({
    url,
    port: port!,
    command: server,
    args: [],
    spawnOptions: { env, cwd: dataDir },
    what: "rabbitmq-server",
    readyWithinMs: 60_000,
    log: opts.log,
    async ready() {
      const c = await amqp.connect(url, { timeout: 500 });
      await c.close();
      return true;
    },
    // The node's port mapper outlives it; it would hold its port for good.
    afterStop() {
      try {
        execFileSync("epmd", ["-port", String(epmdPort), "-kill"], { stdio: "ignore", env });
      } catch {
        // already gone
      }
    },
  });
  await broker.start();
  return broker;
}

/** A NATS server with JetStream (its store in `dataDir`, kept across stop()/start()). Ready in well under 1 s. */
export async function startNats(opts: BrokerOptions): Promise<LocalServer> {
  const server = binary(["/usr/bin/nats-server", "/usr/sbin/nats-server"], "apt-get install -y nats-server");
  const [port] = await freePorts(1);
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const url = `nats://127.0.0.1:${port}`;
  const broker = brokerProcess({
    url,
    port: port!,
    command: server,
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dataDir],
    spawnOptions: {},
    what: "nats-server",
    readyWithinMs: 20_000,
    log: opts.log,
    async ready() {
      const nc = await connect({ servers: `127.0.0.1:${port}`, timeout: 500, reconnect: false });
      try {
        await (await nc.jetstreamManager()).getAccountInfo();
      } finally {
        await nc.close();
      }
      return true;
    },
  });
  await broker.start();
  return broker;
}
