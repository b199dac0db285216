// The `reservation_status_change` payload. Flovi documents the states and the cancellation reasons but not
// the exact field layout, so this parser is tolerant: camelCase or snake_case keys, `status` for `state`,
// ids as strings or numbers, the reservation either at the top level or under `data` / `reservation` /
// `payload`. The shapes it accepts are pinned by the fixtures in ./fixtures and test/unit/flovi-payload.test.ts.
import { z } from "zod";
import { CANCELLATION_REASONS, isReservationState, type ReservationState } from "../../domain/reservation.js";
import { unstorableValue } from "../../lib/text.js";

const FLOVI_EVENT_NAME = "reservation_status_change";

export interface StatusChange {
  reservationId: string;
  externalId: string | null;
  state: ReservationState;
  cancellationReason: string | null;
  occurredAt: Date | null;
  /** Cost fields (price, currency, priceBreakdown, finalCosts...) when the payload has any. */
  costs: Record<string, unknown> | null;
  vehicles: unknown[] | null;
  /** Side fields that were odd and what was used instead (docs/events.md, "What a Flovi delivery may look like"). */
  warnings: PayloadWarning[];
}

/**
 * A side field that could not be used as sent. The state is applied all the same, with the fallback named
 * here; the raw value stays in the stored body, and a prefix of it is kept with the warning.
 */
export interface PayloadWarning {
  field: "occurredAt" | "externalId" | "cancellationReason" | "vehicles" | "fields";
  problem: "no_offset" | "unparsable" | "out_of_range" | "empty" | "too_long" | "wrong_type" | "unknown_reason" | "unexpected_fields";
  /** What the state was applied with instead. */
  fallback: "receipt_time" | "null" | "kept" | "ignored";
  raw: string;
}

export type PayloadVerdict =
  | { kind: "status_change"; change: StatusChange; body: Record<string, unknown> }
  /** Signed but not a status change (the dashboard's test ping, another event): stored, never processed. */
  | { kind: "ignored"; reason: "not_a_status_change" | "unsupported_event" }
  /** Signed but unusable: stored with the reason, answered 4xx. */
  | { kind: "rejected"; reason: "malformed_json" | "unprocessable_value" | "unknown_state" | "missing_reservation_id" | "invalid_payload"; detail?: string };

// Ids are BigInt-sized strings at Flovi: a JSON number beyond 2^53 has already lost digits when parsed, so it
// is refused (send it as a string) rather than stored rounded.
const id = z
  .union([
    z.string().trim().min(1).max(200),
    z
      .number()
      .nonnegative()
      .refine(Number.isInteger, "must be an integer")
      .refine(Number.isSafeInteger, "a number beyond 2^53 loses digits in JSON: send the id as a string"),
  ])
  .transform(String);
// Epoch seconds or milliseconds, or an ISO string; the instant must fall between 1970 and 9999 (Postgres and
// JavaScript both hold it, and no real status change lies outside it).
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59);
const MAX_SIDE_TEXT = 200;
const ISO_WITH_OFFSET = z.iso.datetime({ offset: true });
const ISO_LOCAL = z.iso.datetime({ local: true });

const COST_KEYS = ["finalCosts", "costs", "totalCosts", "totalCost", "price", "currency", "priceBreakdown", "finalPrice"];
const TIME_KEYS = ["occurredAt", "changedAt", "statusChangedAt", "updatedAt", "timestamp", "eventTime"];
const EVENT_KEYS = ["event", "eventType", "webhook", "type", "topic"];
const NESTED_KEYS = ["data", "reservation", "payload"];
/** Every key the parser reads; anything else is reported once as `unexpected_fields` (and kept in the body). */
const KNOWN_KEYS = new Set([
  ...COST_KEYS,
  ...TIME_KEYS,
  ...EVENT_KEYS,
  ...NESTED_KEYS,
  "state",
  "status",
  "newState",
  "newStatus",
  "reservationId",
  "id",
  "externalId",
  "cancellationReason",
  "reason",
  "vehicles",
  "vehicle",
]);

const rawText = (value: unknown) => (typeof value === "string" ? value : (JSON.stringify(value) ?? String(value))).slice(0, 100);

/** An instant, or why not: epoch seconds or milliseconds, or ISO 8601 with an offset. */
function readTime(value: unknown): Date | PayloadWarning["problem"] {
  let date: Date;
  if (typeof value === "number") date = new Date(value < 1e12 ? value * 1000 : value);
  else if (typeof value === "string" && ISO_WITH_OFFSET.safeParse(value).success) date = new Date(value);
  else if (typeof value === "string" && ISO_LOCAL.safeParse(value.replace(" ", "T")).success) return "no_offset";
  else return typeof value === "string" ? "unparsable" : "wrong_type";
  const ms = date.getTime();
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_INSTANT ? date : "out_of_range";
}

/** A short text side field (externalId, cancellation reason): a string or an integer, 1 to 200 characters. */
function readText(value: unknown): string | PayloadWarning["problem"] {
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== "string") return "wrong_type";
  const text = value.trim();
  if (text === "") return "empty";
  return text.length > MAX_SIDE_TEXT ? "too_long" : text;
}

function normalizeState(word: string): string {
  return word
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
}

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camelKeys(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), v]));
}

/** Top-level keys win over nested ones; `state`/`status` are looked up at both levels. */
function flatten(body: Record<string, unknown>): Record<string, unknown> {
  const top = camelKeys(body);
  const nested = NESTED_KEYS.map((k) => camelKeys(top[k])).find((o) => Object.keys(o).length > 0) ?? {};
  return { ...nested, ...top };
}

export function parseFloviBody(raw: Buffer): PayloadVerdict {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    return { kind: "rejected", reason: "malformed_json" };
  }
  // Valid JSON can still be impossible to store or forward: refused here, never retried in the worker.
  const problem = unstorableValue(body);
  if (problem) return { kind: "rejected", reason: "unprocessable_value", detail: problem };
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { kind: "ignored", reason: "not_a_status_change" };
  }
  const flat = flatten(body as Record<string, unknown>);

  // Under event/type/webhook/topic: the event's name, or (some senders) the state word itself.
  const names = EVENT_KEYS.map((k) => flat[k]).filter((v): v is string => typeof v === "string");
  const stateFromEvent = names.map(normalizeState).find(isReservationState);
  const eventName = names.find((v) => v.includes("_") && !isReservationState(normalizeState(v)));
  if (eventName !== undefined && eventName !== FLOVI_EVENT_NAME && !stateFromEvent) return { kind: "ignored", reason: "unsupported_event" };

  const rawState = flat.state ?? flat.status ?? flat.newState ?? flat.newStatus ?? stateFromEvent;
  if (rawState === undefined || rawState === null) return { kind: "ignored", reason: "not_a_status_change" };
  const state = typeof rawState === "string" ? normalizeState(rawState) : "";
  if (!isReservationState(state)) {
    return { kind: "rejected", reason: "unknown_state", detail: String(rawState).slice(0, 100) };
  }

  const reservationId = id.safeParse(flat.reservationId ?? flat.id);
  if (flat.reservationId == null && flat.id == null) return { kind: "rejected", reason: "missing_reservation_id" };
  if (!reservationId.success) {
    return { kind: "rejected", reason: "invalid_payload", detail: `reservationId: ${reservationId.error.issues[0]?.message}` };
  }

  // Side fields never cost the state: each odd one becomes a warning and a fallback.
  const warnings: PayloadWarning[] = [];
  const warn = (field: PayloadWarning["field"], problem: PayloadWarning["problem"], fallback: PayloadWarning["fallback"], value: unknown) =>
    warnings.push({ field, problem, fallback, raw: rawText(value) });

  const rawTime = TIME_KEYS.map((k) => flat[k]).find((v) => v !== undefined && v !== null);
  let occurredAt: Date | null = null;
  if (rawTime !== undefined) {
    const time = readTime(rawTime);
    if (time instanceof Date) occurredAt = time;
    else warn("occurredAt", time, "receipt_time", rawTime);
  }

  let externalId: string | null = null;
  if (flat.externalId != null) {
    const text = readText(flat.externalId);
    if (text === "empty" || text === "too_long" || text === "wrong_type") warn("externalId", text, "null", flat.externalId);
    else externalId = text;
  }

  let cancellationReason: string | null = null;
  const rawReason = flat.cancellationReason ?? flat.reason;
  if (state === "cancelled" && rawReason != null) {
    const text = readText(rawReason);
    if (text === "empty" || text === "too_long" || text === "wrong_type") warn("cancellationReason", text, "null", rawReason);
    else {
      cancellationReason = text;
      if (!(CANCELLATION_REASONS as readonly string[]).includes(text)) warn("cancellationReason", "unknown_reason", "kept", rawReason);
    }
  }

  const rawVehicles = flat.vehicles ?? flat.vehicle ?? null;
  let vehicles: unknown[] | null = null;
  if (Array.isArray(rawVehicles)) vehicles = rawVehicles;
  else if (typeof rawVehicles === "object" && rawVehicles !== null) vehicles = [rawVehicles];
  else if (rawVehicles !== null) warn("vehicles", "wrong_type", "null", rawVehicles);

  const unexpected = Object.keys(flat).filter((k) => !KNOWN_KEYS.has(k));
  if (unexpected.length > 0) warn("fields", "unexpected_fields", "ignored", unexpected.slice(0, 20).join(","));

  const costs = Object.fromEntries(COST_KEYS.filter((k) => flat[k] !== undefined).map((k) => [k, flat[k]]));
  return {
    kind: "status_change",
    body: body as Record<string, unknown>,
    change: {
      reservationId: reservationId.data,
      externalId,
      state,
      cancellationReason,
      occurredAt,
      costs: Object.keys(costs).length > 0 ? costs : null,
      vehicles,
      warnings,
    },
  };
}
