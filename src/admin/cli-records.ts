// `events …`, `tracking …` and `tail`: the admin CLI's commands on what the hub recorded.
import { eventById } from "../db/events.js";
import { tailAfter, tailStart, type TailCursor } from "../db/tail.js";
import { listTracked } from "../db/tracked-items.js";
import { eventLog } from "../services/read-model.js";
import { isKnownEventPattern, validEventPatterns } from "../domain/events.js";
import { registerGreenflowBooking, registerMfbOrder, stopByOperator } from "../services/tracking.js";
import { table, tailLine } from "./cli-format.js";
import { number, type Io, type Result, str, usage } from "./cli-io.js";

export async function eventCommand(io: Io, [sub, id]: string[]): Promise<Result> {
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
      const events = page.json.map(
        (text) => JSON.parse(text) as { id: string; type: string; subject: string; time: string; data: { status: string; sequence: number } },
      );
      return {
        ok: true,
        data: { data: events, cursor: page.cursor, hasMore: page.hasMore },
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

export async function trackingCommand(io: Io, [sub, provider, id]: string[]): Promise<Result> {
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

/**
 * Streams until interrupted: one line per stored inbound webhook and per delivery attempt. Its first line is
 * written once the starting point is taken, so everything stored after that line is shown. When the database
 * goes away (the service stopped) it says so once, keeps its place and retries until it is back.
 */
export async function tail(io: Io): Promise<Result> {
  const db = io.db();
  let stopped = false;
  let wake: () => void = () => {};
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const where = databaseName(io.config.DATABASE_URL);
  let down: Date | null = null;
  /** One database read; on failure a single line (not one per retry) and null. */
  const attempt = async <T>(read: () => Promise<T>): Promise<T | null> => {
    try {
      const value = await read();
      if (down) process.stderr.write(`${where} is reachable again (it was away since ${down.toISOString()}); continuing where tail stopped\n`);
      down = null;
      return value;
    } catch (error) {
      if (!down) {
        down = new Date();
        process.stderr.write(`${where} is not reachable (${shortError(error)}): is the service stopped? retrying every ${RETRY_MS / 1000} s; Ctrl-C stops\n`);
      }
      await pause(RETRY_MS);
      return null;
    }
  };
  let cursor: TailCursor | null = null;
  while (!stopped && !cursor) cursor = await attempt(() => tailStart(db));
  if (!cursor) return { ok: true };
  if (!io.values.json) io.write("tailing inbound webhooks (IN) and delivery attempts (OUT); Ctrl-C stops");
  while (!stopped) {
    const read = await attempt(() => tailAfter(db, cursor!));
    if (!read) continue;
    const { inbound, attempts } = read;
    const items = [...inbound, ...attempts].sort((a, b) => a.at.getTime() - b.at.getTime());
    for (const item of items) io.write(io.values.json ? JSON.stringify(item) : tailLine(item));
    if (inbound.length > 0) cursor = { ...cursor, inbound: inbound.at(-1)!.seq };
    if (attempts.length > 0) cursor = { ...cursor, attempt: attempts.at(-1)!.id };
    if (inbound.length < 500 && attempts.length < 500) await pause(POLL_MS);
  }
  return { ok: true };
}

const POLL_MS = 500;
const RETRY_MS = 2_000;

/** "Postgres at host:port/db", never the credentials. */
function databaseName(url: string): string {
  try {
    const u = new URL(url);
    return `Postgres at ${u.host}${u.pathname}`;
  } catch {
    return "Postgres";
  }
}

/** The first line of an error (Prisma's are several), with its code when it has one. */
function shortError(error: unknown): string {
  const e = error as { message?: string; code?: string };
  const line = (e.message ?? String(error)).split("\n").find((l) => l.trim()) ?? "";
  return e.code && !line.includes(e.code) ? `${e.code}: ${line.trim()}` : line.trim();
}
