// The admin CLI, for operators on a shell without HTTP access: `npm run admin -- <command>` (or
// `node dist/src/admin/cli.js <command>` in the image). Same actions, same audit rows as the admin API.
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, redisSettings } from "../config/env.js";
import { loadDevSettings } from "../config/dev-settings.js";
import { createDatabase } from "../db/client.js";
import { createLogger } from "../observability/logger.js";
import { createQueues } from "../queues/queues.js";
import { createRedis } from "../queues/redis.js";
import * as subscriptions from "../delivery/subscriptions.js";
import { subscriptionChange, subscriptionView } from "../delivery/subscriptions.js";
import * as admin from "./service.js";

const USAGE = `usage: npm run admin -- <command> [options]

  queues                                   every queue with its counts
  failed <queue> [--limit N] [--start N]   failed jobs of a queue
  retry <queue> <jobId>                    retry one failed job
  retry-failed <queue> [--name N] [--since ISO] [--reason-contains S]
  remove <queue> <jobId>                   remove one failed job
  webhooks [--status S] [--limit N]        stored inbound deliveries
  replay-webhook <inboundDeliveryId>       process a stored inbound delivery again
  retry-delivery <webhookDeliveryId>       send an event to its subscriber again
  recover <subscriptionId> --since ISO     re-send a subscription's failed deliveries since a time
  audit [--limit N]                        the audit log, newest first
  subscriptions list                       every endpoint: id, status, URL, ordering and limits
  subscriptions show <id>                  one endpoint with its deliveries by status and its backlog
  subscriptions set <id> [--ordering none|subject] [--max-in-flight N] [--rate N|none] [--description S]
                                           change an endpoint's delivery settings (docs/delivery.md)

Configured by the environment (DATABASE_URL, REDIS_URL or REDIS_SENTINELS or REDIS_CLUSTER_NODES, QUEUE_PREFIX, ...), like the service; beside a running
\`npm run dev\`, by the settings it wrote to .data/dev.env for whatever the environment does not set.`;

const COMMANDS = ["queues", "failed", "retry", "retry-failed", "remove", "webhooks", "replay-webhook", "retry-delivery", "recover", "audit", "subscriptions"];

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      limit: { type: "string" },
      start: { type: "string" },
      status: { type: "string" },
      name: { type: "string" },
      since: { type: "string" },
      "reason-contains": { type: "string" },
      ordering: { type: "string" },
      "max-in-flight": { type: "string" },
      rate: { type: "string" },
      description: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`);
}
const { positionals, values } = parsed;

const [command, ...args] = positionals;
if (!command || values.help) fail(USAGE, command ? 0 : 2);
if (!COMMANDS.includes(command)) fail(`unknown command: ${command}\n\n${USAGE}`);

// Beside a running `npm run dev`, its connection settings (.data/dev.env) fill what the environment lacks.
const devSettings = loadDevSettings();
if (devSettings) process.stderr.write(`using the settings of the running \`npm run dev\` (${devSettings})\n`);

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error), 78);
}

const log = createLogger({ level: "warn", destination: process.stderr });
const db = createDatabase({ url: config.DATABASE_URL, poolSize: 2, applicationName: "event-hub-admin-cli" });
const redis = createRedis(redisSettings(config), "worker");
const queues = createQueues({ connection: redis, prefix: config.QUEUE_PREFIX });
const deps: admin.AdminDeps = { db, queues, log };
const actor = `cli:${userInfo().username}`;
const arg = (i: number, what: string) => args[i] ?? fail(`${command}: missing ${what}\n\n${USAGE}`);
const num = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number(value));
const date = (value: string | undefined) => {
  if (value === undefined) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? fail(`not a date: ${value}`) : d;
};

async function run(): Promise<{ ok: boolean; output: unknown }> {
  switch (command) {
    case "queues":
      return { ok: true, output: await admin.queueOverview(deps) };
    case "failed": {
      const r = await admin.failedJobs(deps, arg(0, "<queue>"), num(values.start, 0), num(values.limit, 50));
      return { ok: r.kind === "ok", output: r };
    }
    case "retry": {
      const r = await admin.retryJob(deps, actor, arg(0, "<queue>"), arg(1, "<jobId>"));
      return { ok: r.kind === "retried", output: r };
    }
    case "remove": {
      const r = await admin.removeJob(deps, actor, arg(0, "<queue>"), arg(1, "<jobId>"));
      return { ok: r.kind === "removed", output: r };
    }
    case "retry-failed": {
      const r = await admin.retryFailed(deps, actor, arg(0, "<queue>"), { name: values.name, since: date(values.since), failedReasonContains: values["reason-contains"] });
      return { ok: r.kind === "retried", output: r };
    }
    case "webhooks":
      return { ok: true, output: await admin.listInbound(deps, { status: values.status, limit: num(values.limit, 50) }) };
    case "replay-webhook": {
      const r = await admin.replayWebhook(deps, actor, arg(0, "<inboundDeliveryId>"));
      return { ok: r.kind === "replayed", output: r };
    }
    case "retry-delivery": {
      const r = await admin.retryDelivery(deps, actor, arg(0, "<webhookDeliveryId>"));
      return { ok: r.kind === "queued", output: r };
    }
    case "recover": {
      const since = date(values.since) ?? fail("recover needs --since <ISO time>");
      const r = await admin.recoverSubscription(deps, actor, arg(0, "<subscriptionId>"), since);
      return { ok: r.kind === "queued", output: r };
    }
    case "audit": {
      const rows = await admin.auditLog(deps, { limit: num(values.limit, 50) });
      return { ok: true, output: rows };
    }
    case "subscriptions":
      return subscriptionCommand(arg(0, "list | show | set"));
    default:
      return fail(`unknown command: ${command}\n\n${USAGE}`);
  }
}

async function subscriptionCommand(sub: string): Promise<{ ok: boolean; output: unknown }> {
  const svc = { db, log };
  switch (sub) {
    case "list": {
      const rows = (await subscriptions.list(svc)).map(subscriptionView);
      const lines = rows.map(
        (s) => `${s.id}  ${s.status.padEnd(8)}  ${s.url}  ordering=${s.ordering} maxInFlight=${s.maxInFlight} rate=${s.rateLimitPerSecond ?? "none"}  ${s.eventTypes.join(",")}`,
      );
      return { ok: true, output: lines.length > 0 ? lines.join("\n") : "no subscriptions" };
    }
    case "show": {
      const found = await subscriptions.detail(svc, arg(1, "<subscriptionId>"));
      return found ? { ok: true, output: { ...subscriptionView(found.subscription), deliveries: found.counts, lane: found.lane } } : { ok: false, output: `no subscription ${args[1]}` };
    }
    case "set": {
      const id = arg(1, "<subscriptionId>");
      const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
      const change: Record<string, unknown> = { ordering: values.ordering, maxInFlight: number(values["max-in-flight"]), description: values.description };
      if (values.rate !== undefined) change.rateLimitPerSecond = values.rate === "none" ? null : Number(values.rate);
      const parsed = subscriptionChange.safeParse(Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)));
      if (!parsed.success) return fail(`subscriptions set: ${parsed.error.issues.map((i) => `${i.path.join(".") || "options"}: ${i.message}`).join("; ")}`);
      const updated = await subscriptions.change(svc, actor, id, parsed.data);
      return updated ? { ok: true, output: subscriptionView(updated) } : { ok: false, output: `no subscription ${id}` };
    }
    default:
      return fail(`unknown subscriptions command: ${sub} (list, show or set)`);
  }
}

let exitCode = 0;
try {
  const { ok, output } = await run();
  process.stdout.write(`${typeof output === "string" ? output : JSON.stringify(output, null, 2)}\n`);
  exitCode = ok ? 0 : 1;
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  exitCode = 1;
} finally {
  await queues.close();
  await redis.quit().catch(() => redis.disconnect());
  await db.close();
}
process.exit(exitCode);
