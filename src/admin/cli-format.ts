// How the admin CLI speaks to people: tables with aligned columns and sentences instead of internal objects.
// `--json` prints the objects themselves (for scripts); this module is only the human side.
import type { LaneStats } from "../db/delivery-lanes.js";
import { maskUrl, plural } from "../lib/text.js";

export type Cell = string | number | boolean | null | undefined | Date;

const cell = (value: Cell): string =>
  value === null || value === undefined ? "-" : value instanceof Date ? value.toISOString().replace(/\.\d{3}Z$/, "Z") : String(value);

/** Rows as an aligned table under a header; a sentence when there are none. */
export function table(rows: Record<string, Cell>[], empty: string): string {
  if (rows.length === 0) return empty;
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join("  ");
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join("\n");
}

/** One record as `key: value` lines. */
export function record(fields: Record<string, Cell | string[]>): string {
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  return Object.entries(fields)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${Array.isArray(v) ? v.join(", ") : cell(v)}`)
    .join("\n");
}

/** What an admin action's outcome means, in a sentence (the JSON API's error messages, said the same way). */
export function outcomeMessage(result: { kind: string; [k: string]: unknown }): string {
  switch (result.kind) {
    case "not_found":
      return `not found: ${String(result.what)}`;
    case "retried":
      return "jobId" in result ? `job ${String(result.jobId)} queued again` : `${String(result.retried)} failed jobs queued again`;
    case "removed":
      return `job ${String(result.jobId)} removed`;
    case "not_failed":
      return `that job is not failed (it is ${String(result.state)}): nothing to do`;
    case "replayed":
      return `replayed: ${String(result.result)}${result.outcome ? ` (${String(result.outcome)})` : ""}`;
    case "queued":
      if ("requeued" in result) {
        const notes = Array.isArray(result.notes) ? (result.notes as string[]) : [];
        return [
          `${String(result.requeued)} failed deliveries queued again, ${String(result.sentNow ?? 0)} waiting ones sent now`,
          ...notes.map((n) => `  note: ${n}`),
        ].join("\n");
      }
      return deliveryQueued(result);
    case "in_progress":
      return "an attempt of this delivery is under way; its outcome decides what comes next";
    case "already_delivered":
      return `this delivery already succeeded${result.deliveredAt ? ` (at ${new Date(String(result.deliveredAt)).toISOString()})` : ""}; add --force to send it again`;
    case "held":
      return "the subscription is in ordered mode and an earlier event of this subject is not delivered yet; this one goes out right after it";
    case "subscription_inactive":
      return "the subscription is disabled: enable it first (subscriptions enable <id>)";
    case "resumed":
      return `${String(result.provider)} polling resumed; ${String(result.rescheduled)} items due now`;
    default:
      return JSON.stringify(result);
  }
}

/** `subscriptions show`: labels a person reads, times in ISO 8601 (UTC), counts in sentences. */
export function subscriptionDetail(
  s: {
    id: string;
    url: string;
    status: string;
    eventTypes: string[];
    ordering: string;
    maxInFlight: number;
    rateLimitPerSecond: number | null;
    consecutiveFailures: number;
    failingSince?: Date | string | null;
    headers?: Record<string, string>;
    filters?: unknown[];
    destination?: Record<string, string> | null;
  },
  counts: Record<string, number>,
  lane: LaneStats,
  probeAfter: number,
): string {
  const failures =
    s.consecutiveFailures === 0
      ? "none (the last attempt succeeded)"
      : `${s.consecutiveFailures} attempts in a row${s.failingSince ? ` since ${cell(new Date(s.failingSince))}` : ""}` +
        (probeAfter > 0 && s.consecutiveFailures >= probeAfter ? "; probed one request at a time until one succeeds" : "; a success resets it");
  const byStatus = Object.entries(counts).map(([status, n]) => `${status} ${n}`);
  return record({
    id: s.id,
    url: maskUrl(s.url),
    ...(s.destination ? { destination: destinationLine(s.destination) } : {}),
    status: s.status,
    "event types": s.eventTypes,
    ordering: s.ordering === "subject" ? "by subject (one at a time per subject, in order)" : "none (in parallel)",
    "max in flight": s.maxInFlight,
    "rate limit": s.rateLimitPerSecond === null ? "none" : `${s.rateLimitPerSecond} per second`,
    ...(s.headers && Object.keys(s.headers).length > 0 ? { "static headers": Object.entries(s.headers).map(([n, v]) => `${n}: ${v}`) } : {}),
    ...(s.filters && s.filters.length > 0 ? { filters: JSON.stringify(s.filters) } : {}),
    "failed attempts": failures,
    deliveries: byStatus.length > 0 ? byStatus.join(", ") : "none yet",
    "in flight now": lane.inFlight,
    "due, waiting": lane.waiting,
    "retrying later": lane.retrying,
    ...(lane.held > 0
      ? { held: `${plural(lane.held, "delivery", "deliveries")} of ${plural(lane.heldSubjects, "subject")} since ${cell(lane.heldSince)}` }
      : {}),
    ...(lane.pausedUntil ? { paused: `until ${cell(lane.pausedUntil)}${lane.pauseReason ? ` (${lane.pauseReason})` : ""}` } : {}),
  });
}

/** `rabbitmq: exchange hub.events, routing key {type}`, `nats: subject hub.{type}`. */
const destinationLine = (d: Record<string, string>) =>
  d.type === "rabbitmq" ? `rabbitmq: exchange "${d.exchange}", routing key ${d.routingKey}` : `${d.type}: subject ${d.subject}`;

export function subscriptionRows(
  subscriptions: { id: string; status: string; url: string; eventTypes: string[]; ordering: string; maxInFlight: number; rateLimitPerSecond: number | null }[],
) {
  return subscriptions.map((s) => ({
    id: s.id,
    status: s.status,
    url: maskUrl(s.url),
    events: s.eventTypes.join(","),
    ordering: s.ordering,
    "max in flight": s.maxInFlight,
    rate: s.rateLimitPerSecond ?? "none",
  }));
}

/** One line of `tail`. */
export function tailLine(
  item:
    | { kind: "inbound"; at: Date; id: string; status: string; reason: string | null; reservationId: string | null }
    | {
        kind: "attempt";
        at: Date;
        eventType: string;
        subject: string;
        url: string;
        statusCode: number | null;
        durationMs: number;
        attempt: number;
        error: string | null;
        webhookDeliveryId: string;
      },
): string {
  const at = item.at.toISOString().slice(11, 23);
  if (item.kind === "inbound") return `${at}  IN   flovi ${item.reservationId ?? "-"}  ${item.status}${item.reason ? ` (${item.reason})` : ""}  ${item.id}`;
  let host: string;
  try {
    host = new URL(item.url).host;
  } catch {
    host = "?";
  }
  const result = item.statusCode !== null ? String(item.statusCode) : (item.error ?? "no answer");
  return `${at}  OUT  ${item.eventType} ${item.subject} → ${host}  ${result}  ${item.durationMs} ms  attempt ${item.attempt}  ${item.webhookDeliveryId}`;
}

/** What a re-send or send-now will really do: go out now, wait behind its subject's delivery, or for a pause. */
function deliveryQueued(result: Record<string, unknown>): string {
  const id = String(result.webhookDeliveryId);
  const what = result.sendNow ? `delivery ${id} was waiting for its next attempt` : `delivery ${id} is queued to be sent again`;
  if (result.outcome === "behind") return `${what}: it goes out right after delivery ${String(result.behind)} of its subject (ordered mode)`;
  if (result.outcome === "paused") return `${what}: it goes out when the subscriber's pause ends (${new Date(String(result.pausedUntil)).toISOString()})`;
  return `${what}: sent now`;
}
