// Where a subscription delivers (docs/delivery.md, "Destinations"): an HTTP endpoint (its `url`), or a broker.
// A broker destination is its URL (kept in the subscription's `url`, credentials included) and the options
// stored in its `destination` column: the RabbitMQ exchange and routing key, or the NATS JetStream subject.
// Routing keys and subjects are templates over the event's `type`, `subject` and `source`. Pure.
import { maskUrl } from "../lib/text.js";

export const BROKER_KINDS = ["rabbitmq", "nats"] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

/** The options a broker destination keeps beside its URL. */
export type BrokerOptions = { type: "rabbitmq"; exchange: string; routingKey: string } | { type: "nats"; subject: string };

const SCHEMES: Record<BrokerKind, readonly string[]> = { rabbitmq: ["amqp:", "amqps:"], nats: ["nats:", "tls:"] };
const DEFAULT_PORTS: Record<string, number> = { "amqp:": 5672, "amqps:": 5671, "nats:": 4222, "tls:": 4222 };
const FIELDS = ["type", "subject", "source"] as const;
type TemplateField = (typeof FIELDS)[number];
const PLACEHOLDER = /\{([^{}]*)\}/g;
/** An AMQP 0-9-1 short string (exchange names, routing keys) holds 255 bytes at most. */
export const AMQP_SHORT_STRING = 255;

/** Why a routing key or subject template is refused, or null. `{type}`, `{subject}`, `{source}` only. */
export function templateProblem(template: string): string | null {
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!FIELDS.includes(name as TemplateField)) return `unknown placeholder {${name}}; allowed: ${FIELDS.map((f) => `{${f}}`).join(", ")}`;
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ""))) return "a brace without its pair; placeholders are {type}, {subject} and {source}";
  return null;
}

/** Why a NATS subject template can never name a valid subject (wildcards, spaces, empty tokens), or null. */
export function natsSubjectProblem(template: string): string | null {
  const literal = template.replace(PLACEHOLDER, "x");
  if (/[\s*>]/.test(literal)) return "a NATS subject has no spaces and no wildcards (* or >) to publish to";
  if (literal.split(".").some((token) => token === "")) return "a NATS subject has no empty tokens (no leading, trailing or doubled dots)";
  return null;
}

/**
 * The template filled in with the event's attributes. In a NATS subject, a value's characters that would
 * change the subject's tokens (`.`, `*`, `>`, spaces) become `_`: `reservation/R-1.2` → `reservation/R-1_2`;
 * the type's dots stay (they make `hub.reservation.created` a subject of four tokens).
 */
export function renderTemplate(template: string, event: Partial<Record<TemplateField, string>>, kind: BrokerKind): string {
  return template.replace(PLACEHOLDER, (_, name: TemplateField) => {
    const value = event[name] ?? "";
    if (kind !== "nats") return value;
    return name === "type" ? value.replace(/[\s*>]/g, "_") : value.replace(/[\s.*>]/g, "_");
  });
}

/** The broker URL parsed, or why it is refused: its scheme fits the kind, it names a host, it has no query or fragment. */
export function parseBrokerUrl(kind: BrokerKind, raw: string): { url: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: `url must be a ${SCHEMES[kind].map((s) => `${s}//`).join(" or ")} URL` };
  }
  if (!SCHEMES[kind].includes(url.protocol)) return { problem: `a ${kind} url starts with ${SCHEMES[kind].map((s) => `${s}//`).join(" or ")}` };
  if (!url.hostname) return { problem: "url must name the broker's host" };
  if (url.search || url.hash) return { problem: "url takes no query or fragment" };
  if (kind === "nats" && url.pathname && url.pathname !== "/") return { problem: "a nats url has no path" };
  if (kind === "rabbitmq" && url.pathname.slice(1).includes("/"))
    return { problem: "a rabbitmq url's path is one virtual host (encode a / in its name as %2F)" };
  return { url };
}

/** Where a subscription's URL delivers: `http`, or the broker kind its scheme names. */
export function destinationKind(url: string): "http" | BrokerKind {
  const scheme = url.slice(0, url.indexOf(":") + 1).toLowerCase();
  return BROKER_KINDS.find((kind) => SCHEMES[kind].includes(scheme)) ?? "http";
}

/** The broker's port: the URL's, or the scheme's default. */
export function brokerPort(url: URL): number {
  return url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 0);
}

/** A RabbitMQ URL's virtual host: its path, decoded; `/` when it has none. */
export function virtualHost(url: URL): string {
  const path = url.pathname.slice(1);
  return path === "" ? "/" : decodeURIComponent(path);
}

/**
 * The delivery scheduler's destination (its fairness unit): an HTTP URL's origin; a broker's scheme, host and
 * port, and for RabbitMQ its virtual host (`amqp://mq.internal:5672/billing`). Credentials are never part of it.
 */
export function destinationKey(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
  const base = `${url.protocol}//${url.hostname}:${brokerPort(url)}`;
  return url.protocol === "amqp:" || url.protocol === "amqps:" ? `${base}/${encodeURIComponent(virtualHost(url))}` : base;
}

/** What a broker destination keeps beside its URL, from what its owner sent (the routing key defaults to the event type). */
export function brokerOptions(
  input: { type: "rabbitmq"; exchange: string; routingKey?: string } | { type: "nats"; subject: string } | undefined,
): BrokerOptions | null {
  if (!input) return null;
  return input.type === "rabbitmq"
    ? { type: "rabbitmq", exchange: input.exchange, routingKey: input.routingKey ?? "{type}" }
    : { type: "nats", subject: input.subject };
}

/** A broker destination as shown: its options and its URL with the credentials masked; null for an HTTP endpoint. */
export function destinationView(s: { url: string; destination: BrokerOptions | null }) {
  return s.destination ? { ...s.destination, url: maskUrl(s.url) } : null;
}
