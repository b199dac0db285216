import { type DestinationStream, pino, type Logger } from "pino";
import { redactDeep, REDACTED } from "./redaction.js";
import { logTraceFields } from "./spans.js";

export type { Logger };

/**
 * Paths pino replaces by themselves: request headers (whose names the family rule below would catch too, but
 * pino hides them before serializing) and Postgres error fields that quote the failing row or parameters
 * ("Key (email)=(…) already exists"). Everything else is the one rule of ./redaction.ts, at any depth.
 */
const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-hub-signature"]',
  'req.headers["x-api-key"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  "err.detail",
  "err.where",
  "err.cause.detail",
  "err.cause.where",
];

export function createLogger(opts: {
  level: string;
  name?: string;
  /** Where lines go (pino's own asynchronous stdout writer by default). */
  destination?: DestinationStream;
  /** trace_id and span_id on every line (tracing on). */
  traceFields?: boolean;
}): Logger {
  return pino(
    {
      level: opts.level,
      name: opts.name,
      ...(opts.traceFields ? { mixin: logTraceFields } : {}),
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      // The family rule (names, phones, e-mails, addresses, secrets, tokens, keys) on every line's fields.
      formatters: { log: (fields: Record<string, unknown>) => redactDeep(fields) as Record<string, unknown> },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}

/** A provider payload fit to show an operator: redacted by the same rule as the logs, at any depth (free text for admins only). */
export const redactForDisplay = (value: unknown, options: { freeText?: boolean } = {}) => redactDeep(value, options);
