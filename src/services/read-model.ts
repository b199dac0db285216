// What the API reads beyond one aggregate's own service: the public event log (with its retention rule) and
// a reservation's view. Routes call these; the statements live in src/db.
import type { Database } from "../db/client.js";
import { eventPage } from "../db/events.js";
import { type ReservationRecord, reservationRecord } from "../db/reservations.js";
import { oldestKept, prunedThrough } from "../db/retention.js";
import { floviCosts } from "../providers/flovi/costs.js";

export type EventLogPage =
  /** `json`: each event as its JSON text, in log order (the route writes them out as they are). */
  | { kind: "page"; json: string[]; cursor: string | null; hasMore: boolean }
  /** The cursor is older than the retention horizon: paging on would silently skip pruned events. */
  | { kind: "cursor_expired"; prunedThrough: bigint };

/** `allowed`: only events of these type patterns (a consumer's). */
export async function eventLog(db: Database, q: { type?: string; subject?: string; after?: string; limit: number; allowed?: string[] }): Promise<EventLogPage> {
  if (q.after) {
    const horizon = await prunedThrough(db);
    if (BigInt(q.after) < horizon) return { kind: "cursor_expired", prunedThrough: horizon };
  }
  const rows = await eventPage(db, { type: q.type, subject: q.subject, after: q.after ? BigInt(q.after) : undefined, allowed: q.allowed }, q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1)?.position;
  return { kind: "page", json: page.map((r) => r.envelope), cursor: last !== undefined ? last.toString() : (q.after ?? null), hasMore: rows.length > q.limit };
}

/**
 * A reservation as GET /reservations/:id shows it: its state, its final costs as money (as events carry
 * them) with the fields as Flovi sent them beside, every transition, every event.
 */
export async function reservationView(db: Database, id: string) {
  const record = await reservationRecord(db, id);
  return record ? toReservationView(record) : null;
}

function toReservationView({ reservation: r, events }: ReservationRecord) {
  const raw = r.finalCosts as Record<string, unknown> | null;
  return {
    reservationId: r.id,
    externalId: r.externalId,
    state: r.state,
    cancellationReason: r.cancellationReason,
    finalCosts: raw ? floviCosts(raw) : null,
    finalCostsAsSent: raw,
    vehicles: r.vehicles,
    sequence: r.sequence,
    lastChangedAt: r.lastChangedAt,
    lastReconciledAt: r.lastReconciledAt,
    /** When reservation.final_costs_overdue was emitted; null when final costs came in time (or not yet due). */
    finalCostsOverdueAt: r.finalCostsOverdueAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    transitions: r.transitions.map((t) => ({
      from: t.fromState,
      to: t.toState,
      outcome: t.outcome,
      source: t.source,
      occurredAt: t.occurredAt,
      receivedAt: t.receivedAt,
      inboundDeliveryId: t.inboundDeliveryId,
      /** Deprecated: the same as inboundDeliveryId, kept for one release (docs/api.md). */
      deliveryId: t.inboundDeliveryId,
      eventId: t.eventId,
      // Side fields of that delivery that could not be used as sent, and the fallback applied (docs/events.md).
      warnings: t.delivery?.warnings ?? [],
    })),
    events,
  };
}

export async function retentionOverview(db: Database) {
  return { eventsPrunedThrough: (await prunedThrough(db)).toString(), ...(await oldestKept(db)) };
}
