// The admin CLI's commands (docs/cli.md). Each returns its data (printed with --json), a text for people, and
// whether it did what was asked (exit 0) or not (exit 1); a usage mistake exits 2.
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import type { Database } from "../db/client.js";
import { eventById } from "../db/events.js";
import { tailAfter, tailStart } from "../db/tail.js";
import { deliveryWithAttempts } from "../db/webhook-deliveries.js";
import { listTracked } from "../db/tracked-items.js";
import * as subscriptions from "../delivery/subscriptions.js";
import { subscriptionChange, subscriptionInput, subscriptionView } from "../delivery/subscriptions.js";
import { subscriptionServiceDeps } from "../delivery/settings.js";
import { sendTestEvent } from "../delivery/test-event.js";
import type { Queues } from "../queues/queues.js";
import { eventLog } from "../services/read-model.js";
import { isKnownEventPattern, validEventPatterns } from "../domain/events.js";
import { registerGreenflowBooking, registerMfbOrder, stopByOperator } from "../services/tracking.js";
import { outcomeMessage, record, subscriptionRows, table, tailLine } from "./cli-format.js";
import * as admin from "./service.js";

export const USAGE = `usage: npm run admin -- <command> [options]        (--json: the data, for scripts)

subscriptions
  subscriptions list                                   every endpoint: id, status, URL, event types, limits
  subscriptions show <id>                              one endpoint, its deliveries by status and its lane
  subscriptions create <url> --events a.*,b.c [--description S] [--ordering subject] [--allow-duplicate]
  subscriptions set <id> [--events ...] [--ordering none|subject] [--max-in-flight N] [--rate N|none] [--description S]
  subscriptions disable|enable|delete <id>
  subscriptions rotate-secret <id>                     a new secret; the old one is still signed with for a grace period
  subscriptions test <id>                              send a signed hub.test to that endpoint and show the outcome
deliveries
  deliveries list --subscription <id> [--status pending|held|succeeded|failed|cancelled] [--limit N]
  deliveries show <webhookDeliveryId>                  one delivery with every attempt (status, latency, error, answer)
  deliveries retry <webhookDeliveryId>                 send again; one waiting for its next attempt is sent now
  recover <subscriptionId> --since ISO [--include-pending]   re-send failed deliveries (and send waiting ones now)
events
  events list [--type T] [--subject S] [--after CURSOR] [--limit N]
  events show <eventId>
tracking
  tracking list [--active] [--limit N]
  tracking register mfb <orderId> [--reference R]
  tracking register greenflow <code> --lastname L [--time-zone Zone]
  tracking stop mfb|greenflow <id>
inbound webhooks, queues, audit
  webhooks [--status S] [--limit N]                    stored inbound deliveries
  replay-webhook <inboundDeliveryId>                   process a stored inbound delivery again
  queues                                               every queue with its counts
  failed <queue> [--limit N] [--start N]               failed jobs of a queue
  retry <queue> <jobId> | remove <queue> <jobId>       one failed job
  retry-failed <queue> [--name N] [--since ISO] [--reason-contains S]
  audit [--limit N]                                    the audit log, newest first
  tail                                                 inbound webhooks and delivery attempts as they happen (Ctrl-C)

Exit codes: 0 done, 1 refused or not found, 2 usage, 78 configuration.
Configured by the environment like the service (DATABASE_URL, REDIS_URL or REDIS_SENTINELS or REDIS_CLUSTER_NODES,
QUEUE_PREFIX, ...); beside a running \`npm run dev\`, by the settings it wrote to .data/dev.env.`;

export interface Io {
  config: Config;
  log: Logger;
  actor: string;
  values: Record<string, string | boolean | undefined>;
  db(): Database;
  queues(): Queues;
  /** Opens the queues and waits (a few seconds at most) for Redis: throws a clear error when it is away. */
  queuesReady(): Promise<void>;
  write(text: string): void;
}

export interface Result {
  ok: boolean;
  data?: unknown;
  text?: string;
  /** A usage mistake: the text says what, the usage follows (exit 2). */
  usage?: boolean;
}

const usage = (text: string): Result => ({ ok: false, usage: true, text });
const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);

function adminDeps(io: Io): admin.AdminDeps {
  // Queues are opened only by the actions that touch them.
  return {
    db: io.db(),
    log: io.log,
    get queues() {
      return io.queues();
    },
  };
}

function outcome(result: { kind: string; [k: string]: unknown }, done: string[]): Result {
  return { ok: done.includes(result.kind), data: result, text: outcomeMessage(result) };
}

const number = (io: Io, name: string, fallback: number): number => {
  const raw = str(io.values[name]);
  const n = raw === undefined ? fallback : Number(raw);
  return Number.isFinite(n) ? n : fallback;
};

function date(raw: string | undefined): Date | undefined | null {
  if (raw === undefined) return undefined;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? null : d;
}

export async function runCommand(io: Io, positionals: string[]): Promise<Result> {
  const [command, ...args] = positionals;
  const v = io.values;
  if (["queues", "failed", "retry", "remove", "retry-failed"].includes(command ?? "") || (command === "tracking" && args[0] === "register"))
    await io.queuesReady();
  switch (command) {
    case "subscriptions":
      return subscriptionCommand(io, args);
    case "deliveries":
      return deliveryCommand(io, args);
    case "events":
      return eventCommand(io, args);
    case "tracking":
      return trackingCommand(io, args);
    case "tail":
      return tail(io);
    case "queues": {
      const rows = await admin.queueOverview(adminDeps(io));
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
      const r = await admin.failedJobs(adminDeps(io), args[0], number(io, "start", 0), number(io, "limit", 50));
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
        ? outcome(await admin.retryJob(deps, io.actor, args[0], args[1]), ["retried"])
        : outcome(await admin.removeJob(deps, io.actor, args[0], args[1]), ["removed"]);
    }
    case "retry-failed": {
      if (!args[0]) return usage("retry-failed: name the queue");
      const since = date(str(v.since));
      if (since === null) return usage(`not a date: ${String(v.since)}`);
      return outcome(await admin.retryFailed(adminDeps(io), io.actor, args[0], { name: str(v.name), since, failedReasonContains: str(v["reason-contains"]) }), [
        "retried",
      ]);
    }
    case "webhooks": {
      const rows = await admin.listInbound(adminDeps(io), { status: str(v.status), limit: number(io, "limit", 50) });
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
      return outcome(await admin.replayWebhook(adminDeps(io), io.actor, args[0]), ["replayed"]);
    case "retry-delivery":
      return deliveryCommand(io, ["retry", ...args]);
    case "recover": {
      const since = date(str(v.since));
      if (!args[0] || !since) return usage("recover: name the subscription and give --since <ISO time>");
      return outcome(await admin.recoverSubscription(adminDeps(io), io.actor, args[0], since, { includePending: v["include-pending"] === true }), ["queued"]);
    }
    case "audit": {
      const rows = await admin.auditLog(adminDeps(io), { limit: number(io, "limit", 50) });
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

async function subscriptionCommand(io: Io, [sub, id, ...rest]: string[]): Promise<Result> {
  const v = io.values;
  const svc = subscriptionServiceDeps({ db: io.db(), log: io.log }, io.config);
  const missing = (what: string): Result => usage(`subscriptions ${sub}: name the ${what}`);
  const notFound = (): Result => ({ ok: false, data: { error: "not_found", id }, text: `no subscription ${id}` });
  const events = str(v.events)
    ?.split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  switch (sub) {
    case "list": {
      const rows = (await subscriptions.list(svc)).map(subscriptionView);
      return {
        ok: true,
        data: rows,
        text: table(subscriptionRows(rows), "no subscriptions yet: create one with `subscriptions create <url> --events reservation.*`"),
      };
    }
    case "show": {
      if (!id) return missing("subscription");
      const found = await subscriptions.detail(svc, id);
      if (!found) return notFound();
      const s = subscriptionView(found.subscription);
      const data = { ...s, deliveries: found.counts, lane: found.lane };
      return {
        ok: true,
        data,
        text: record({
          id: s.id,
          url: s.url,
          status: s.status,
          events: s.eventTypes,
          ordering: s.ordering,
          "max in flight": s.maxInFlight,
          rate: s.rateLimitPerSecond ?? "none",
          "failure run": s.consecutiveFailures,
          deliveries: Object.entries(found.counts).map(([k, n]) => `${k} ${n}`),
          lane: Object.entries(found.lane).map(([k, n]) => `${k} ${String(n)}`),
        }),
      };
    }
    case "create": {
      if (!id) return missing("URL");
      const input = subscriptionInput.safeParse({
        url: id,
        eventTypes: events,
        ...(str(v.description) ? { description: str(v.description) } : {}),
        ...(str(v.ordering) ? { ordering: str(v.ordering) } : {}),
        ...(v["allow-duplicate"] ? { allowDuplicate: true } : {}),
      });
      if (!input.success)
        return usage(
          `subscriptions create: ${input.error.issues.map((i) => `${i.path.join(".") === "eventTypes" ? "--events" : i.path.join(".")}: ${i.message}`).join("; ")}`,
        );
      const r = await subscriptions.create(svc, io.actor, input.data);
      if (r.kind === "invalid_target") return { ok: false, data: r, text: `refused: ${r.reason}` };
      if (r.kind === "duplicate")
        return {
          ok: false,
          data: { kind: "duplicate", existing: subscriptionView(r.existing) },
          text: `subscription ${r.existing.id} already sends ${r.existing.eventTypes.join(", ")} to this URL: change it with \`subscriptions set ${r.existing.id} --events ...\`, or add --allow-duplicate for a second endpoint with its own secret`,
        };
      const view = { ...subscriptionView(r.subscription), secret: r.subscription.secret };
      return {
        ok: true,
        data: view,
        text: `${record({ id: view.id, url: view.url, events: view.eventTypes })}\nsecret: ${view.secret}\n(shown once: give it to the receiver, which verifies every delivery with it)`,
      };
    }
    case "set": {
      if (!id) return missing("subscription");
      const change: Record<string, unknown> = { ordering: str(v.ordering), description: str(v.description), eventTypes: events };
      if (str(v["max-in-flight"]) !== undefined) change.maxInFlight = Number(v["max-in-flight"]);
      if (str(v.rate) !== undefined) change.rateLimitPerSecond = v.rate === "none" ? null : Number(v.rate);
      const parsed = subscriptionChange.safeParse(Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined)));
      if (!parsed.success) return usage(`subscriptions set: ${parsed.error.issues.map((i) => `${i.path.join(".") || "options"}: ${i.message}`).join("; ")}`);
      const updated = await subscriptions.change(svc, io.actor, id, parsed.data);
      return updated ? { ok: true, data: subscriptionView(updated), text: `subscription ${id} updated` } : notFound();
    }
    case "disable":
    case "enable": {
      if (!id) return missing("subscription");
      const updated = await subscriptions.setEnabled(svc, io.actor, id, sub === "enable");
      return updated ? { ok: true, data: subscriptionView(updated), text: `subscription ${id} ${sub}d` } : notFound();
    }
    case "delete": {
      if (!id) return missing("subscription");
      return (await subscriptions.remove(svc, io.actor, id)) ? { ok: true, data: { deleted: id }, text: `subscription ${id} deleted` } : notFound();
    }
    case "rotate-secret": {
      if (!id) return missing("subscription");
      const rotated = await subscriptions.rotate(svc, io.actor, id, io.config.SECRET_ROTATION_GRACE_MS);
      if (!rotated) return notFound();
      return {
        ok: true,
        data: { ...subscriptionView(rotated.subscription), secret: rotated.secret },
        text: `new secret: ${rotated.secret}\n(shown once; deliveries are signed with the old one too until ${rotated.subscription.previousSecretExpiresAt?.toISOString()})`,
      };
    }
    case "test": {
      if (!id) return missing("subscription");
      const result = await sendTestEvent({ ...svc, timeoutMs: io.config.DELIVERY_TIMEOUT_MS }, io.actor, id);
      if (!result) return notFound();
      const said = result.statusCode !== null ? `answered ${result.statusCode}` : `no answer (${result.error})`;
      return {
        ok: result.delivered,
        data: result,
        text: `${result.delivered ? "delivered" : "NOT delivered"}: the endpoint ${said} in ${result.durationMs} ms (event ${result.eventId})${result.excerpt ? `\n  ${result.excerpt.slice(0, 200)}` : ""}`,
      };
    }
    default:
      return usage(`unknown subscriptions command: ${sub ?? "(none)"}${rest.length ? "" : ""}`);
  }
}

async function deliveryCommand(io: Io, [sub, id]: string[]): Promise<Result> {
  switch (sub) {
    case "list": {
      const subscription = str(io.values.subscription);
      if (!subscription) return usage("deliveries list: give --subscription <id>");
      const rows = await subscriptions.deliveries({ db: io.db() }, subscription, { status: str(io.values.status), limit: number(io, "limit", 50) });
      if (!rows) return { ok: false, text: `no subscription ${subscription}` };
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((d) => ({
            id: d.id,
            event: d.eventType,
            subject: d.subject,
            status: d.status,
            attempts: d.attempts,
            "next attempt": d.nextAttemptAt,
            error: d.lastError,
          })),
          "no deliveries",
        ),
      };
    }
    case "show": {
      if (!id) return usage("deliveries show: name the delivery");
      const d = /^[0-9a-f-]{36}$/i.test(id) ? await deliveryWithAttempts(io.db(), id) : null;
      if (!d) return { ok: false, text: `no delivery ${id}` };
      return {
        ok: true,
        data: d,
        text: `${record({ id: d.id, event: `${d.eventType} ${d.subject} (${d.eventId})`, subscription: d.subscriptionId, status: d.status, "next attempt": d.nextAttemptAt, created: d.createdAt })}\n${table(
          d.attemptLog.map((a) => ({
            attempt: a.attempt,
            at: a.attemptedAt,
            status: a.statusCode,
            ms: a.durationMs,
            error: a.error,
            answer: a.responseExcerpt?.slice(0, 60),
          })),
          "no attempts yet",
        )}`,
      };
    }
    case "retry":
      if (!id) return usage("deliveries retry: name the delivery");
      return outcome(await admin.retryDelivery(adminDeps(io), io.actor, id), ["queued"]);
    default:
      return usage(`unknown deliveries command: ${sub ?? "(none)"}`);
  }
}

async function eventCommand(io: Io, [sub, id]: string[]): Promise<Result> {
  switch (sub) {
    case "list": {
      const type = str(io.values.type);
      if (type !== undefined && !isKnownEventPattern(type))
        return usage(`events list: unknown event type ${JSON.stringify(type)}; valid: ${validEventPatterns()}`);
      const page = await eventLog(io.db(), {
        type: str(io.values.type),
        subject: str(io.values.subject),
        after: str(io.values.after),
        limit: number(io, "limit", 50),
      });
      if (page.kind === "cursor_expired")
        return { ok: false, data: page, text: `events up to position ${page.prunedThrough} were pruned: list again without --after` };
      const events = page.data as { id: string; type: string; subject: string; time: string; data: { status: string; sequence: number } }[];
      return {
        ok: true,
        data: page,
        text: `${table(
          events.map((e) => ({ id: e.id, time: e.time, type: e.type, subject: e.subject, seq: e.data.sequence })),
          "no events",
        )}${page.hasMore ? `\nmore: --after ${page.cursor}` : ""}`,
      };
    }
    case "show": {
      if (!id) return usage("events show: name the event");
      const event = /^[0-9a-f-]{36}$/i.test(id) ? await eventById(io.db(), id) : null;
      return event ? { ok: true, data: event, text: JSON.stringify(event, null, 2) } : { ok: false, text: `no event ${id}` };
    }
    default:
      return usage(`unknown events command: ${sub ?? "(none)"}`);
  }
}

async function trackingCommand(io: Io, [sub, provider, id]: string[]): Promise<Result> {
  const deps = () => ({
    db: io.db(),
    log: io.log,
    config: io.config,
    get queues() {
      return io.queues();
    },
  });
  switch (sub) {
    case "list": {
      const rows = await listTracked(io.db(), { active: io.values.active === true, limit: number(io, "limit", 50) });
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((r) => ({
            provider: r.provider,
            id: r.key,
            reference: r.secondary,
            status: r.status,
            polling: r.active ? "active" : `stopped (${r.stoppedReason})`,
            "next poll": r.nextPollAt,
          })),
          "nothing tracked yet",
        ),
      };
    }
    case "register": {
      if (provider === "mfb" && id) {
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
          return usage(`tracking register mfb: ${id} is not an MFB order id (a UUID such as eb27ff8e-b353-4a3f-8e7e-69576e64ee1a)`);
        const { created, view } = await registerMfbOrder(deps(), { orderId: id, reference: str(io.values.reference) });
        return { ok: true, data: view, text: `MFB order ${id} ${created ? "tracked" : "already tracked"}; status ${view.status ?? "not read yet"}` };
      }
      if (provider === "greenflow" && id) {
        const lastname = str(io.values.lastname);
        if (!lastname) return usage("tracking register greenflow: give --lastname (GreenFlow needs it to read the booking)");
        const { created, view } = await registerGreenflowBooking(deps(), { bookingCode: id, lastname, timeZone: str(io.values["time-zone"]) });
        return {
          ok: true,
          data: view,
          text: `GreenFlow booking ${view.bookingCode} ${created ? "tracked" : "already tracked"}; status ${view.status ?? "not read yet"}`,
        };
      }
      return usage("tracking register: mfb <orderId> or greenflow <code> --lastname L");
    }
    case "stop": {
      if ((provider !== "mfb" && provider !== "greenflow") || !id) return usage("tracking stop: mfb <orderId> or greenflow <code>");
      const key = await stopByOperator({ db: io.db(), log: io.log }, io.actor, provider, id);
      return key
        ? {
            ok: true,
            data: { stopped: key },
            text: `${provider} ${key}: polling stopped (subscribers get ${provider === "mfb" ? "shipment" : "rental"}.tracking_stopped)`,
          }
        : { ok: false, text: `${provider} ${id} is not tracked` };
    }
    default:
      return usage(`unknown tracking command: ${sub ?? "(none)"}`);
  }
}

/** Streams until interrupted: one line per stored inbound webhook and per delivery attempt. */
async function tail(io: Io): Promise<Result> {
  const db = io.db();
  let cursor = await tailStart(db);
  if (!io.values.json) io.write("tailing inbound webhooks (IN) and delivery attempts (OUT); Ctrl-C stops");
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  while (!stopped) {
    const { inbound, attempts } = await tailAfter(db, cursor);
    const items = [...inbound, ...attempts].sort((a, b) => a.at.getTime() - b.at.getTime());
    for (const item of items) io.write(io.values.json ? JSON.stringify(item) : tailLine(item));
    if (inbound.length > 0) cursor = { ...cursor, inbound: inbound.at(-1)!.seq };
    if (attempts.length > 0) cursor = { ...cursor, attempt: attempts.at(-1)!.id };
    if (inbound.length < 500 && attempts.length < 500) await new Promise((r) => setTimeout(r, 500));
  }
  return { ok: true };
}
