import { table } from "./cli-format.js";
import { adminDeps, date, number, outcome, type Io, type Result, str, usage } from "./cli-io.js";

// Each command loads only the modules it uses (the CLI is bundled with one chunk per dynamic import): a
// command's start-up is most of its time.
const queueActionsModule = () => import("../services/queue-actions.js");
const adminModule = () => import("../services/admin.js");
const records = () => import("./cli-records.js");
const deliveries = () => import("./cli-deliveries.js");

export type { Io, Result };

const QUEUE_COMMANDS = new Set(["queues", "failed", "retry", "remove", "retry-failed"]);

export async function runCommand(io: Io, positionals: string[]): Promise<Result> {
  const [command, ...args] = positionals;
  const v = io.values;
  if (QUEUE_COMMANDS.has(command ?? "") || (command === "tracking" && args[0] === "register")) await io.queuesReady();
  switch (command) {
    case "subscriptions":
      return (await import("./cli-subscriptions.js")).subscriptionCommand(io, args);
    case "consumers":
      return (await import("./cli-consumers.js")).consumerCommand(io, args);
    case "tokens":
      return (await import("./cli-tokens.js")).tokenCommand(io, args);
    case "deliveries":
      return (await deliveries()).deliveryCommand(io, args);
    case "events":
      return (await records()).eventCommand(io, args);
    case "tracking":
      return (await records()).trackingCommand(io, args);
    case "tail":
      return (await records()).tail(io);
    case "queues": {
      const rows = await (await queueActionsModule()).queueOverview(adminDeps(io));
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((q) => ({ queue: q.name, ...q.counts })),
          "no queues",
        ),
      };
    }
    case "failed": {
      if (!args[0]) return usage("failed: name the queue");
      const r = await (await queueActionsModule()).failedJobs(adminDeps(io), args[0], number(io, "start", 0), number(io, "limit", 50));
      if (r.kind !== "ok") return outcome(r, []);
      return {
        ok: true,
        data: r,
        text: table(
          r.jobs.map((j) => ({ job: j.id, name: j.name, attempts: j.attemptsMade, failed: j.failedReason })),
          `no failed jobs in ${args[0]}`,
        ),
      };
    }
    case "retry":
    case "remove": {
      if (!args[0] || !args[1]) return usage(`${command}: name the queue and the job`);
      const deps = adminDeps(io);
      return command === "retry"
        ? outcome(await (await queueActionsModule()).retryJob(deps, io.actor, args[0], args[1]), ["retried"])
        : outcome(await (await queueActionsModule()).removeJob(deps, io.actor, args[0], args[1]), ["removed"]);
    }
    case "retry-failed": {
      if (!args[0]) return usage("retry-failed: name the queue");
      const since = date(str(v.since));
      if (since === null) return usage(`not a date: ${String(v.since)}`);
      return outcome(
        await (await queueActionsModule()).retryFailed(adminDeps(io), io.actor, args[0], {
          name: str(v.name),
          since,
          failedReasonContains: str(v["reason-contains"]),
        }),
        ["retried"],
      );
    }
    case "webhooks": {
      const { data: rows } = await (await adminModule()).inboundPage(adminDeps(io), { status: str(v.status), limit: number(io, "limit", 50) });
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((r) => ({ id: r.id, received: r.receivedAt, status: r.status, reason: r.statusReason, bytes: r.bodyBytes, processed: r.processCount })),
          "no stored webhooks",
        ),
      };
    }
    case "replay-webhook":
      if (!args[0]) return usage("replay-webhook: name the inbound delivery");
      return outcome(await (await adminModule()).replayWebhook(adminDeps(io), io.actor, args[0]), ["replayed"]);
    case "retry-delivery":
      return (await deliveries()).deliveryCommand(io, ["retry", ...args]);
    case "recover": {
      const since = date(str(v.since));
      if (!args[0] || !since) return usage("recover: name the subscription and give --since <ISO time>");
      const options = { includePending: v["include-pending"] === true, includePendingName: "--include-pending" };
      return outcome(await (await adminModule()).recoverSubscription(adminDeps(io), io.actor, args[0], since, options), ["queued"]);
    }
    case "audit": {
      const { data: rows } = await (await adminModule()).auditPage(adminDeps(io), { limit: number(io, "limit", 50) });
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((r) => ({ at: r.createdAt, actor: r.actor, action: r.action, target: r.target })),
          "the audit log is empty",
        ),
      };
    }
    default:
      return usage(`unknown command: ${command}`);
  }
}
