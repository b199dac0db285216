// The `reservation_status_change` payload. Flovi documents the states and the cancellation reasons but not
// the exact field layout, so this parser is tolerant: camelCase or snake_case keys, `status` for `state`,
// ids as strings or numbers, the reservation either at the top level or under `data` / `reservation` /
// `payload`. The shapes it accepts are pinned by the fixtures in ./fixtures and test/unit/flovi-payload.test.ts.
import { z } from "zod";
import { isReservationState, type ReservationState } from "../../domain/reservation.js";
import { unstorableValue } from "../../lib/text.js";

export const FLOVI_EVENT_NAME = "reservation_status_change";

export interface StatusChange {
  reservationId: string;
  externalId: string | null;
  state: ReservationState;
  cancellationReason: string | null;
  occurredAt: Date | null;
  /** Cost fields (price, currency, priceBreakdown, finalCosts...) when the payload has any. */
  costs: Record<string, unknown> | null;
  vehicles: unknown[] | null;
}

export type PayloadVerdict =
  | { kind: "status_change"; change: StatusChange; body: Record<string, unknown> }
  /** Signed but not a status change (the dashboard's test ping, another event): stored, never processed. */
  | { kind: "ignored"; reason: "not_a_status_change" | "unsupported_event" }
  /** Signed but unusable: stored with the reason, answered 4xx. */
  | { kind: "rejected"; reason: "malformed_json" | "unprocessable_value" | "unknown_state" | "missing_reservation_id" | "invalid_payload"; detail?: string };

const id = z.union([z.string().trim().min(1).max(200), z.number().int().nonnegative()]).transform(String);
const optionalId = z.union([id, z.null()]).optional();
// Epoch seconds or milliseconds, or an ISO string; the instant must fall between 1970 and 9999 (Postgres and
// JavaScript both hold it, and no real status change lies outside it).
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59);
const timestamp = z
  .union([z.iso.datetime({ offset: true }), z.number().positive()])
  .transform((v) => (typeof v === "number" ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v)))
  .refine((d) => Number.isFinite(d.getTime()) && d.getTime() >= 0 && d.getTime() <= MAX_INSTANT, "a time between 1970 and 9999");

const changeSchema = z.object({
  reservationId: id,
  externalId: optionalId,
  cancellationReason: z.string().trim().min(1).max(200).nullable().optional(),
  occurredAt: timestamp.optional(),
  vehicles: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).nullable().optional(),
});

const COST_KEYS = ["finalCosts", "costs", "totalCosts", "totalCost", "price", "currency", "priceBreakdown", "finalPrice"];
const TIME_KEYS = ["occurredAt", "changedAt", "statusChangedAt", "updatedAt", "timestamp", "eventTime"];
const EVENT_KEYS = ["event", "eventType", "webhook", "type", "topic"];
const NESTED_KEYS = ["data", "reservation", "payload"];

function normalizeState(word: string): string {
  return word.trim().toLowerCase().replace(/[\s-]+/g, "_");
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

  const candidate = {
    reservationId: flat.reservationId ?? flat.id,
    externalId: flat.externalId ?? null,
    cancellationReason: flat.cancellationReason ?? flat.reason ?? null,
    occurredAt: TIME_KEYS.map((k) => flat[k]).find((v) => v !== undefined && v !== null),
    vehicles: flat.vehicles ?? flat.vehicle ?? null,
  };
  if (candidate.reservationId === undefined || candidate.reservationId === null) {
    return { kind: "rejected", reason: "missing_reservation_id" };
  }
  const parsed = changeSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: "rejected", reason: "invalid_payload", detail: `${issue?.path.join(".")}: ${issue?.message}` };
  }

  const costs = Object.fromEntries(COST_KEYS.filter((k) => flat[k] !== undefined).map((k) => [k, flat[k]]));
  const vehicles = parsed.data.vehicles;
  return {
    kind: "status_change",
    body: body as Record<string, unknown>,
    change: {
      reservationId: parsed.data.reservationId,
      externalId: parsed.data.externalId ?? null,
      state,
      cancellationReason: state === "cancelled" ? (parsed.data.cancellationReason ?? null) : null,
      occurredAt: parsed.data.occurredAt ?? null,
      costs: Object.keys(costs).length > 0 ? costs : null,
      vehicles: vehicles == null ? null : Array.isArray(vehicles) ? vehicles : [vehicles],
    },
  };
}
