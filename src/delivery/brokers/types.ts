// What every broker destination module implements (docs/delivery.md, "Destinations"): publish one event and
// wait for the broker's confirm, keep connections per broker, close them, and say what went wrong in the terms
// the delivery decisions read. Adding Kafka, SQS or Pub/Sub is one more module behind this interface.
import type { AttemptAnswer } from "../attempt-answer.js";
import type { BrokerOptions } from "../../domain/destinations.js";
import { storableText } from "../../lib/text.js";
import { checkedAddress, RefusedTarget, type TargetPolicy } from "../target-policy.js";

/** One event to publish: the CloudEvent as JSON text (structured mode) and what templates and headers need. */
export interface BrokerMessage {
  eventId: string;
  body: string;
  /** The envelope's attributes the routing key or subject template may use. */
  attributes: { type?: string; subject?: string; source?: string };
  /** The subscription's static headers, sent as message headers. */
  headers: Record<string, string>;
  /** A replay's publish says so (`hub-replay`); NATS gets a message id of its own for it. */
  replayId: string | null;
}

export interface BrokerTarget {
  /** The broker's URL, credentials included (never logged: every view masks it). */
  url: string;
  options: BrokerOptions;
}

export interface BrokerClient {
  /** Publishes and waits for the broker's confirm, at most `timeoutMs`. Never throws. */
  publish(target: BrokerTarget, message: BrokerMessage, timeoutMs: number): Promise<AttemptAnswer>;
  /** Closes every connection it keeps. */
  close(): Promise<void>;
}

/** The broker confirmed: the delivery succeeded. */
export const confirmed = (durationMs: number, excerpt: string): AttemptAnswer => ({
  statusCode: null,
  error: null,
  excerpt,
  retryAfterMs: null,
  durationMs,
  refused: false,
  confirmed: true,
});

/** The broker refused or did not confirm: a failed attempt, retried on the schedule. */
export const refusedPublish = (durationMs: number, error: string): AttemptAnswer => ({
  statusCode: null,
  error: storableText(error),
  excerpt: null,
  retryAfterMs: null,
  durationMs,
  refused: false,
});

/** How long a lane waits before it tries an unreachable or blocked broker again. */
const BROKER_RETRY_MS = 2_000;

/** The broker cannot be reached or does not take messages now: the lane pauses (as for a 429), no attempt used. */
export const unavailable = (durationMs: number, error: string): AttemptAnswer => ({
  statusCode: null,
  error: storableText(error),
  excerpt: null,
  retryAfterMs: BROKER_RETRY_MS,
  durationMs,
  refused: false,
  unavailable: true,
});

/** The target policy refused the address (an endpoint's or a broker's): no attempt can help. */
export const refusedTarget = (reason: string): AttemptAnswer => ({
  statusCode: null,
  error: `target refused: ${reason}`,
  excerpt: null,
  retryAfterMs: null,
  durationMs: 0,
  refused: true,
});

/** Network errors that mean "the broker is away" (pause and come back), not "the broker said no". */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && NETWORK_CODES.has(code);
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The broker's URL, its host, and the address that host resolves to once the target policy allowed it (throws RefusedTarget). */
export async function brokerAddress(policy: TargetPolicy, raw: string) {
  const url = new URL(raw);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { url, host, address: await checkedAddress(policy, host) };
}

/** Milliseconds since it was called, rounded: an attempt's duration. */
export function stopwatch(): () => number {
  const started = performance.now();
  return () => Math.round(performance.now() - started);
}

/**
 * Why a connection could not be had, as the delivery decisions read it: the target policy's refusal, the
 * broker refusing us (credentials, permissions: a failed attempt), or the broker away (the lane pauses).
 */
export function connectionFailed(error: unknown, durationMs: number, broker: string, refusesUs: (error: unknown) => boolean): AttemptAnswer {
  if (error instanceof RefusedTarget) return refusedTarget(error.message);
  if (refusesUs(error)) return refusedPublish(durationMs, `the ${broker} refused the connection: ${messageOf(error)}`);
  const code = (error as { code?: unknown } | null)?.code;
  return unavailable(durationMs, `cannot reach the ${broker}: ${isNetworkError(error) ? String(code) : messageOf(error)}`);
}

/** Connections kept per broker URL: opened on first use, shared while open, opened again once dropped. */
export function connectionsByUrl<L>(open: (url: string, timeoutMs: number) => Promise<L>) {
  const links = new Map<string, Promise<L>>();
  return {
    get(url: string, timeoutMs: number): Promise<L> {
      let link = links.get(url);
      if (!link) {
        const opening = open(url, timeoutMs);
        link = opening;
        links.set(url, opening);
        opening.catch(() => {
          if (links.get(url) === opening) links.delete(url);
        });
      }
      return link;
    },
    /** The connection closed: the next publish opens a new one. */
    drop(url: string) {
      links.delete(url);
    },
    /** Every connection, forgotten (to be closed). */
    drain(): Promise<L>[] {
      const all = [...links.values()];
      links.clear();
      return all;
    },
  };
}
