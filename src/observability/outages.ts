// One line per outage (docs/operations.md, "When Redis or Postgres goes away"). A process that loses Redis or
// Postgres fails many calls a second; each call site used to log its own warning with a stack trace (1,441
// lines in 25 s). Now a warning or error whose `err` is a lost connection to Redis or Postgres (`classify`)
// comes here instead of the log (`quietOutages` wraps the process's logger, so every call site is covered):
//   - the first failure of an outage logs one warning: what is down, since when, what the hub does meanwhile;
//   - while it lasts, a reminder at most every REMINDER_MS, with how long and how many failures;
//   - a probe (a PING, a SELECT 1) runs every PROBE_MS meanwhile, so the recovery is seen even when no call
//     is made, and logs one line when it is back;
//   - `dependency_up{dependency}` says the same to Prometheus.
// An error that is not a lost connection (a constraint, a bad command) is not an outage: the caller logs it.
import type { Logger } from "pino";
import { systemClock, type Clock, type Timer } from "../lib/clock.js";

export type Dependency = "redis" | "postgres";

export interface OutageDeps {
  log: Logger;
  /** What the hub does while each one is away (said once, in the warning). */
  meanwhile: Record<Dependency, string>;
  /** Resolves when the dependency answers (a PING, a SELECT 1). */
  probes: Record<Dependency, () => Promise<unknown>>;
  gauge?: { set(labels: { dependency: Dependency }, value: number): void };
  clock?: Clock;
}

export interface Outages {
  /** A call to `what` failed with a lost connection. */
  failed(what: Dependency, error: unknown): void;
  /** A call to `what` worked: an outage in progress ends. */
  ok(what: Dependency): void;
  /** Stops the probes (shutdown). */
  close(): void;
}

export const REMINDER_MS = 60_000;
const PROBE_MS = 1_000;

/** Codes and messages of a connection that is gone or cannot be made (Node, pg, ioredis, BullMQ). */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "08006",
  "08001",
  "08003",
]);
const CONNECTION_MESSAGES =
  /connection is closed|connection terminated|stream isn't writeable|reached the max retries|connect ECONNREFUSED|terminating connection|the database system is (starting up|shutting down|in recovery)|Connection timeout|timeout exceeded when trying to connect/i;

function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message, errors } = e as { code?: unknown; message?: unknown; errors?: unknown };
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
    if (typeof message === "string" && CONNECTION_MESSAGES.test(message)) return true;
    // Node's AggregateError for a host with several addresses (127.0.0.1 and ::1): each refused.
    if (Array.isArray(errors) && errors.length > 0 && errors.every(isConnectionError)) return true;
  }
  return false;
}

const describe = (error: unknown) => (error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error));

export function createOutages(deps: OutageDeps): Outages {
  const clock = deps.clock ?? systemClock;
  const open = new Map<Dependency, { since: number; failures: number; remindedAt: number; probe: Timer; probing: boolean }>();
  for (const what of ["redis", "postgres"] as const) deps.gauge?.set({ dependency: what }, 1);

  const ok = (what: Dependency) => {
    const outage = open.get(what);
    if (!outage) return;
    open.delete(what);
    outage.probe.cancel();
    deps.gauge?.set({ dependency: what }, 1);
    deps.log.info({ dependency: what, downForMs: clock.now() - outage.since, failures: outage.failures }, `${what} is back`);
  };

  const failed = (what: Dependency, error: unknown) => {
    const now = clock.now();
    const outage = open.get(what);
    if (!outage) {
      const started = { since: now, failures: 1, remindedAt: now, probing: false, probe: { cancel: () => undefined } as Timer };
      started.probe = clock.interval(() => {
        if (started.probing) return;
        started.probing = true;
        deps.probes[what]()
          .then(
            () => ok(what),
            () => undefined,
          )
          .finally(() => {
            started.probing = false;
          });
      }, PROBE_MS);
      open.set(what, started);
      deps.gauge?.set({ dependency: what }, 0);
      deps.log.warn(
        { dependency: what, since: new Date(now).toISOString(), error: describe(error), meanwhile: deps.meanwhile[what] },
        `${what} is unreachable`,
      );
      return true;
    }
    outage.failures++;
    if (now - outage.remindedAt >= REMINDER_MS) {
      outage.remindedAt = now;
      deps.log.warn(
        { dependency: what, since: new Date(outage.since).toISOString(), downForMs: now - outage.since, failures: outage.failures, error: describe(error) },
        `${what} is still unreachable`,
      );
    }
  };

  return {
    failed,
    ok,
    close() {
      for (const outage of open.values()) outage.probe.cancel();
    },
  };
}

/** Where the process connects: Postgres's port (DATABASE_URL's) and Redis's (its URL's, the sentinels', the nodes'). */
export interface Endpoints {
  postgresPorts: number[];
  redisPorts: number[];
}

const REDIS_MESSAGES =
  /connection is closed|stream isn't writeable|reached the max retries|all sentinels are unreachable|failed to refresh slots cache|none of the cluster nodes/i;
const POSTGRES_MESSAGES = /connection terminated|terminating connection|the database system is|timeout exceeded when trying to connect/i;

/** Which dependency a lost connection was to; null for anything else (a subscriber's or a provider's refusal included). */
export function classify(error: unknown, endpoints: Endpoints): Dependency | null {
  if (!isConnectionError(error)) return null;
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { port, message, code, errors } = e as { port?: unknown; message?: unknown; code?: unknown; errors?: unknown };
    const ports = [port, ...(Array.isArray(errors) ? errors.map((x) => (x as { port?: unknown }).port) : [])];
    if (ports.some((p) => typeof p === "number" && endpoints.postgresPorts.includes(p))) return "postgres";
    if (ports.some((p) => typeof p === "number" && endpoints.redisPorts.includes(p))) return "redis";
    if (typeof code === "string" && /^(57P0|080)/.test(code)) return "postgres";
    if (typeof message === "string" && POSTGRES_MESSAGES.test(message)) return "postgres";
    if (typeof message === "string" && REDIS_MESSAGES.test(message)) return "redis";
  }
  // A reset carries no port: the client library that raised it says whose connection it was.
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  if (/[\\/]node_modules[\\/](pg|pg-pool)[\\/]/.test(stack)) return "postgres";
  if (/[\\/]node_modules[\\/](ioredis|bullmq)[\\/]/.test(stack)) return "redis";
  return null;
}

/**
 * The process's logger, with every warning or error about a lost connection to Redis or Postgres (its `err`,
 * and its `dependency` when the call site knows which) handed to `outages` instead of written; children
 * (pino-http's request loggers among them) alike.
 */
export function quietOutages(log: Logger, outages: Outages, endpoints: Endpoints): Logger {
  type Method = (this: Logger, ...args: unknown[]) => void;
  // pino's own methods, called on each quieted logger (they read its bindings and level from `this`).
  const own = { warn: log.warn as Method, error: log.error as Method, child: log.child as unknown as (this: Logger, ...args: unknown[]) => Logger };
  const divert = (first: unknown): boolean => {
    const fields = first && typeof first === "object" ? (first as { err?: unknown; dependency?: unknown }) : undefined;
    const err = fields?.err;
    if (err === undefined) return false;
    // A call site that knows which connection failed says so (`dependency`); otherwise the error tells.
    const said = fields?.dependency === "redis" || fields?.dependency === "postgres" ? fields.dependency : null;
    const what = said && isConnectionError(err) ? said : classify(err, endpoints);
    if (what) outages.failed(what, err);
    return what !== null;
  };
  // The quieted methods are the logger's own properties: `info`, `debug` and pino's internals (every line's)
  // are reached as before. A child is pino's own (made from its parent, as pino makes it), given them too;
  // it is not wrapped in an object of its own, which would make each request's logger a prototype (slow).
  const quieten = (target: Logger): Logger => {
    const quieted = (level: "warn" | "error") => {
      // A child made with a level of its own has its own method for it; otherwise pino's.
      const write = Object.hasOwn(target, level) ? (target[level] as Method) : own[level];
      return (first: unknown, ...rest: unknown[]) => void (divert(first) || write.call(target, first, ...rest));
    };
    return Object.assign(target, {
      warn: quieted("warn"),
      error: quieted("error"),
      child: (...args: unknown[]) => quieten(own.child.apply(target, args)),
    });
  };
  // The process's logger itself stays as it is (the tracker writes its own lines with it).
  return quieten(Object.create(log) as Logger);
}
