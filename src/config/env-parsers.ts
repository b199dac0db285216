// How the environment's values are read: lists, URLs, durations, host:port lists, flags (./env.ts uses them).
import { z } from "zod";
import { destinationKey } from "../domain/destinations.js";

export const csv = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

export const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value));

export const durationMs = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

export const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

export interface HostPort {
  host: string;
  port: number;
}

/** "10.0.0.1:26379,redis-b:26379,[::1]:26379" → [{ host, port }]. */
export const hostPortList = csv.transform((parts, ctx) => {
  const out: HostPort[] = [];
  for (const part of parts) {
    const match = /^(?:\[([^\]]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(part);
    const port = match ? Number(match[3]) : 0;
    if (!match || port < 1 || port > 65_535) {
      ctx.addIssue({ code: "custom", message: `"${part}" is not host:port (e.g. 10.0.0.5:6379, [::1]:6379)` });
      return z.NEVER;
    }
    out.push({ host: match[1] ?? match[2]!, port });
  }
  return out;
});

/** A flag whose absence means "decide from the rest of the configuration": true, false or undefined. */
export const optionalFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .optional()
  .transform((value) => (value === undefined ? undefined : value === "true" || value === "1" || value === "yes"));

export const flag = optionalFlag.transform((value) => value ?? false);

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** "0,5s,5m,30m,2h" → milliseconds. */
export const durationList = z.string().transform((value, ctx) => {
  const units: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: 24 * HOUR };
  const out: number[] = [];
  for (const raw of value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw);
    if (!match) {
      ctx.addIssue({ code: "custom", message: `"${raw}" is not a duration like 500ms, 5s, 5m, 2h` });
      return z.NEVER;
    }
    out.push(Number(match[1]) * units[match[2] ?? "ms"]!);
  }
  if (out.length === 0) {
    ctx.addIssue({ code: "custom", message: "needs at least one duration" });
    return z.NEVER;
  }
  return out;
});

/**
 * "https://gateway.example.com=1024,http://10.0.0.5:8080=16" → destination → limit. A destination is an endpoint's
 * origin (scheme, host, port), or a broker's scheme, host, port (and RabbitMQ virtual host: amqp://mq:5672/billing);
 * the port may be left out where it is the scheme's default.
 */
export const destinationLimits = csv.transform((parts, ctx) => {
  const out = new Map<string, number>();
  for (const part of parts) {
    const at = part.lastIndexOf("=");
    const limit = Number(part.slice(at + 1));
    let origin: string | null = null;
    try {
      origin = at > 0 && new URL(part.slice(0, at)).hostname ? destinationKey(part.slice(0, at)) : null;
    } catch {
      origin = null;
    }
    if (!origin || !Number.isInteger(limit) || limit < 1 || limit > 100_000) {
      ctx.addIssue({ code: "custom", message: `"${part}" is not origin=limit (e.g. https://gateway.example.com=1024, a limit of 1 to 100000)` });
      return z.NEVER;
    }
    out.set(origin, limit);
  }
  return out;
});
