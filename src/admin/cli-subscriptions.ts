// `subscriptions …`: the admin CLI's endpoint commands, through the same audited services as the API.
import * as subscriptions from "../services/subscriptions.js";
import { subscriptionChange, subscriptionInput, subscriptionView } from "../services/subscriptions.js";
import { subscriptionService } from "../services/wiring.js";
import { sendTestEvent } from "../services/test-event.js";
import { replayInput, replaySettings, replayStatus, requestReplay } from "../services/replays.js";
import { record, subscriptionDetail, subscriptionRows, table } from "./cli-format.js";
import { type Io, type Result, str, usage } from "./cli-io.js";

export async function subscriptionCommand(io: Io, [sub, id, ...rest]: string[]): Promise<Result> {
  const v = io.values;
  // The CLI's wiring for this family of commands (loaded only when one of them runs).
  const svc = subscriptionService({ db: io.db(), log: io.log }, io.config);
  const missing = (what: string): Result => usage(`subscriptions ${sub}: name the ${what}`);
  const notFound = (): Result => ({ ok: false, data: { error: "not_found", id }, text: `no subscription ${id}` });
  const headers = headerOptions(v.header, v["clear-headers"] === true, v["allow-authorization"] === true);
  if (typeof headers === "string") return usage(`subscriptions ${sub}: ${headers}`);
  const filters = filterOption(str(v.filters));
  if (typeof filters === "string") return usage(`subscriptions ${sub}: ${filters}`);
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
        text: subscriptionDetail(s, found.counts, found.lane, io.config.DELIVERY_CIRCUIT_AFTER_FAILURES),
      };
    }
    case "create": {
      const destination = destinationOption(v);
      if (!id && !destination) return missing("URL (or --rabbitmq <amqp-url> / --nats <nats-url>)");
      if (id && destination) return usage("subscriptions create: an endpoint URL or --rabbitmq / --nats, not both");
      const input = subscriptionInput.safeParse({
        ...(destination ? { destination } : { url: id }),
        eventTypes: events,
        ...(str(v.description) ? { description: str(v.description) } : {}),
        ...(str(v.ordering) ? { ordering: str(v.ordering) } : {}),
        ...(v["allow-duplicate"] ? { allowDuplicate: true } : {}),
        ...headers,
        ...filters,
      });
      if (!input.success) return usage(`subscriptions create: ${input.error.issues.map((i) => `${optionName(i.path.join("."))}: ${i.message}`).join("; ")}`);
      const r = await subscriptions.create(svc, io.actor, input.data);
      if (r.kind === "invalid_target") return { ok: false, data: r, text: `refused: ${r.reason}` };
      if (r.kind === "duplicate")
        return {
          ok: false,
          data: { kind: "duplicate", existing: subscriptionView(r.existing) },
          text:
            `subscription ${r.existing.id} already sends ${r.existing.eventTypes.join(", ")} to this URL: change it with \`subscriptions set ` +
            `${r.existing.id} --events ...\`, or add --allow-duplicate for a second endpoint with its own secret`,
        };
      const view = { ...subscriptionView(r.subscription), secret: r.subscription.secret };
      if (view.destination) return { ok: true, data: view, text: record({ id: view.id, url: view.url, events: view.eventTypes }) };
      return {
        ok: true,
        data: view,
        text:
          `${record({ id: view.id, url: view.url, events: view.eventTypes })}\nsecret: ${view.secret}\n(shown once: give it to the receiver, ` +
          `which verifies every delivery with it)`,
      };
    }
    case "set": {
      if (!id) return missing("subscription");
      const change: Record<string, unknown> = { ordering: str(v.ordering), description: str(v.description), eventTypes: events, ...headers, ...filters };
      if (str(v["max-in-flight"]) !== undefined) change.maxInFlight = Number(v["max-in-flight"]);
      if (str(v.rate) !== undefined) change.rateLimitPerSecond = v.rate === "none" ? null : Number(v.rate);
      const parsed = subscriptionChange.safeParse(Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined)));
      if (!parsed.success) return usage(`subscriptions set: ${parsed.error.issues.map((i) => `${optionName(i.path.join("."))}: ${i.message}`).join("; ")}`);
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
        text:
          `new secret: ${rotated.secret}\n(shown once; deliveries are signed with the old one too until ` +
          `${rotated.subscription.previousSecretExpiresAt?.toISOString()})`,
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
        text:
          `${result.delivered ? "delivered" : "NOT delivered"}: the endpoint ${said} in ${result.durationMs} ms (event ` +
          `${result.eventId})${result.excerpt ? `\n  ${result.excerpt.slice(0, 200)}` : ""}`,
      };
    }
    case "replay": {
      if (!id) return missing("subscription");
      if (rest[0]) {
        const status = await replayStatus(svc.db, id, rest[0]);
        if (!status) return { ok: false, data: { error: "not_found", id: rest[0] }, text: `no replay ${rest[0]} of subscription ${id}` };
        const counts = Object.entries(status.deliveries).map(([k, n]) => `${n} ${k}`);
        return {
          ok: true,
          data: status,
          text: `${record({ replay: status.id, events: status.events, written: status.written, deliveries: counts.join(", ") || "none kept", done: status.done })}`,
        };
      }
      const input = replayInput.safeParse({ since: str(v.since), until: str(v.until), subject: str(v.subject), types: events });
      if (!input.success)
        return usage(
          `subscriptions replay: ${input.error.issues.map((i) => `--${i.path[0] === "types" ? "events" : String(i.path[0] ?? "since")}: ${i.message}`).join("; ")}`,
        );
      const r = await requestReplay({ ...svc, ...replaySettings(io.config) }, io.actor, id, input.data);
      if (r.kind === "not_found") return notFound();
      if (r.kind === "subscription_inactive") return { ok: false, data: r, text: `subscription ${id} is disabled: enable it first` };
      if (r.kind === "past_retention")
        return {
          ok: false,
          data: r,
          text: `events are kept ${io.config.RETENTION_EVENTS_MS / 86_400_000} days: --since may be ${r.earliest.toISOString()} at the earliest`,
        };
      return { ok: true, data: r, text: `replay ${r.id}: ${r.events} event(s) to be delivered again (progress: subscriptions replay ${id} ${r.id})` };
    }
    default:
      return usage(`unknown subscriptions command: ${sub ?? "(none)"}${rest.length ? "" : ""}`);
  }
}

/**
 * `--header "Name: value"` (repeatable) as the API's `headers` (all of them: the set replaces the last one),
 * `--clear-headers` as `{}`; a malformed one is named.
 */
function headerOptions(given: string | boolean | string[] | undefined, clear: boolean, allowAuthorization: boolean) {
  const list = (Array.isArray(given) ? given : given === undefined ? [] : [given]).filter((h): h is string => typeof h === "string");
  if (clear) return { headers: {} };
  if (list.length === 0) return allowAuthorization ? { allowAuthorizationHeader: true } : {};
  const headers: Record<string, string> = {};
  for (const h of list) {
    const colon = h.indexOf(":");
    if (colon <= 0) return `--header ${JSON.stringify(h)}: write it as "Name: value"`;
    headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  return { headers, ...(allowAuthorization ? { allowAuthorizationHeader: true } : {}) };
}

/** `--rabbitmq <url> --exchange X [--routing-key K]` or `--nats <url> --subject S` as the API's `destination` (validated there). */
function destinationOption(v: Io["values"]): Record<string, unknown> | undefined {
  if (str(v.rabbitmq) !== undefined)
    return { type: "rabbitmq", url: str(v.rabbitmq), exchange: str(v.exchange), ...(str(v["routing-key"]) ? { routingKey: str(v["routing-key"]) } : {}) };
  if (str(v.nats) !== undefined) return { type: "nats", url: str(v.nats), subject: str(v.subject) };
  return undefined;
}

/** `--filters '<json>'` as the API's `filters` (validated there); JSON that does not parse is named. */
function filterOption(given: string | undefined): { filters?: unknown } | string {
  if (given === undefined) return {};
  try {
    return { filters: JSON.parse(given) };
  } catch {
    return `--filters: not JSON (write it as '[{"exact": {"data.phase": "exception"}}]')`;
  }
}

/** The CLI flag for an API field named in a validation message. */
const FLAGS: Record<string, string> = {
  eventTypes: "--events",
  maxInFlight: "--max-in-flight",
  rateLimitPerSecond: "--rate",
  ordering: "--ordering",
  description: "--description",
  url: "the URL",
  headers: "--header",
  filters: "--filters",
  destination: "the destination",
};
/** `headers.X-Api-Key` reads `--header X-Api-Key`. */
const optionName = (field: string) => {
  const [head = "", ...rest] = field.split(".");
  const flag = FLAGS[head];
  return flag ? [flag, ...rest].join(" ") : field || "options";
};
