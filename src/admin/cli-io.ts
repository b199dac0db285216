// What every admin CLI command takes (Io) and gives back (Result), and the small helpers they share.
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import type { Database } from "../db/client.js";
import type { Queues } from "../queues/queues.js";
import { outcomeMessage } from "./cli-format.js";
import type * as admin from "../services/admin.js";

export interface Io {
  config: Config;
  log: Logger;
  actor: string;
  values: Record<string, string | boolean | string[] | undefined>;
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

export const usage = (text: string): Result => ({ ok: false, usage: true, text });
export const str = (v: string | boolean | string[] | undefined) => (typeof v === "string" ? v : undefined);

export function adminDeps(io: Io): admin.AdminDeps {
  // Queues are opened only by the actions that touch them.
  return {
    db: io.db(),
    log: io.log,
    get queues() {
      return io.queues();
    },
  };
}

export function outcome(result: { kind: string; [k: string]: unknown }, done: string[]): Result {
  return { ok: done.includes(result.kind), data: result, text: outcomeMessage(result) };
}

export const number = (io: Io, name: string, fallback: number): number => {
  const raw = str(io.values[name]);
  const n = raw === undefined ? fallback : Number(raw);
  return Number.isFinite(n) ? n : fallback;
};

export function date(raw: string | undefined): Date | undefined | null {
  if (raw === undefined) return undefined;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? null : d;
}
