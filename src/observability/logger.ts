import { pino, type Logger } from "pino";
import { logTraceFields } from "./trace.js";

export type { Logger };

/**
 * Paths pino replaces with "[redacted]" wherever they appear. Signatures, credentials and secrets never reach
 * the logs, and neither do personal fields of the providers' payloads (names, phones, e-mails).
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-hub-signature"]',
  'req.headers["x-api-key"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  "headers.authorization",
  'headers["x-hub-signature"]',
  'headers["x-api-key"]',
  "*.authorization",
  "*.password",
  "*.secret",
  "*.secrets",
  "*.apiKey",
  "*.token",
  "*.lastname",
  "*.last_name",
  "*.phone",
  "*.email",
  // Whole objects that carry names, phones and addresses in the providers' payloads.
  "*.contactInfo",
  "*.recipientContactInfo",
  "*.customer",
  "*.shipper",
  "*.recipient",
  // Postgres error fields quote the row or parameters that failed ("Key (email)=(…) already exists").
  "err.detail",
  "err.where",
  "err.cause.detail",
  "err.cause.where",
];

export function createLogger(opts: { level: string; name?: string; destination?: NodeJS.WritableStream; /** trace_id and span_id on every line (tracing on) */ traceFields?: boolean }): Logger {
  return pino(
    {
      level: opts.level,
      name: opts.name,
      ...(opts.traceFields ? { mixin: logTraceFields } : {}),
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}

/** The field names REDACT_PATHS hides wherever they appear (`*.name`). */
const REDACTED_FIELDS = new Set(REDACT_PATHS.filter((p) => p.startsWith("*.")).map((p) => p.slice(2)));

/**
 * A copy of a provider payload fit to show an operator: the fields the logs redact are replaced at any depth
 * (stricter than pino's one-level wildcard), so the console shows what the logs would, never more.
 */
export function redactForDisplay(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactForDisplay);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, REDACTED_FIELDS.has(k) ? "[redacted]" : redactForDisplay(v)]));
  }
  return value;
}
