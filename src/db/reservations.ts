// Reading reservations (the API, the console, reconciliation's candidates). The inbox's writes go through
// db/reservation-writes.ts.
import type { Database } from "./client.js";
import type { Sql } from "./sql.js";
import { poolOf, prismaOf } from "./clients.js";

/** A side field of a stored delivery that could not be used as sent (stored as JSON by the ingress). */
interface PayloadWarningView {
  field: string;
  problem: string;
  fallback: string;
  raw: string;
}

/** A reservation with its transitions (each with its inbound delivery's payload warnings) and its events' envelopes, in order. */
export async function reservationRecord(db: Database, id: string) {
  const reservation = await prismaOf(db).reservation.findUnique({
    where: { id },
    include: { transitions: { orderBy: { id: "asc" }, include: { delivery: { select: { warnings: true } } } } },
  });
  if (!reservation) return null;
  const events = await prismaOf(db).event.findMany({
    where: { entity: "reservation", entityId: id },
    orderBy: { sequence: "asc" },
    select: { envelope: true },
  });
  return { reservation, events: events.map((e) => e.envelope) };
}

export type ReservationRecord = NonNullable<Awaited<ReturnType<typeof reservationRecord>>>;

/**
 * Reservations not settled whose last change is older than `cutoff` and that were not looked up since (index:
 * (state, last_changed_at)); those Flovi said it does not know are left out.
 */
export async function reconcileCandidates(db: Database, cutoff: Date, limit: number): Promise<string[]> {
  const rows = await prismaOf(db).reservation.findMany({
    where: {
      state: { in: ["created", "taken", "driving"] },
      reconcileStoppedReason: null,
      lastChangedAt: { lt: cutoff },
      OR: [{ lastReconciledAt: null }, { lastReconciledAt: { lt: cutoff } }],
    },
    orderBy: { lastChangedAt: "asc" },
    take: limit,
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/** A look-up happened (whatever it found); with a reason, the reservation is never looked up again. */
export async function markLookedUp(db: Database, id: string, stoppedReason?: string): Promise<void> {
  await prismaOf(db).reservation.update({
    where: { id },
    data: { lastReconciledAt: new Date(), ...(stoppedReason ? { reconcileStoppedReason: stoppedReason } : {}) },
  });
}

/** The same, inside the transaction that applies what the look-up found. */
export async function markLookedUpIn(sql: Sql, id: string): Promise<void> {
  await sql.query("UPDATE reservations SET last_reconciled_at = now() WHERE id = $1", [id]);
}

/** Sealed reservations without final costs since before `cutoff`, not yet flagged (index: reservations_overdue_idx). */
export async function overdueFinalCostsCandidates(db: Database, cutoff: Date, limit: number): Promise<string[]> {
  const { rows } = await poolOf(db).query<{ id: string }>(
    `SELECT id FROM reservations WHERE state = 'sealed' AND final_costs_overdue_at IS NULL AND last_changed_at < $1 ORDER BY last_changed_at LIMIT $2`,
    [cutoff, limit],
  );
  return rows.map((r) => r.id);
}

/** Inside the transaction that emits the overdue event: flagged, so it is emitted once. */
export async function markFinalCostsOverdueIn(sql: Sql, id: string): Promise<void> {
  await sql.query("UPDATE reservations SET final_costs_overdue_at = now() WHERE id = $1", [id]);
}

/** Inside the enrichment's transaction: what the Partner API said (or why it would not), once. */
export async function storeReservationDetailsIn(sql: Sql, id: string, details: Record<string, unknown> | null, unavailable: string | null): Promise<void> {
  await sql.query("UPDATE reservations SET details = COALESCE($2::jsonb, details), details_unavailable = $3, details_fetched_at = now() WHERE id = $1", [
    id,
    details === null ? null : JSON.stringify(details),
    unavailable,
  ]);
}

/** Reservations whose details were never fetched (index: reservations_details_pending_idx), oldest first. */
export async function reservationsWithoutDetails(db: Database, limit: number): Promise<string[]> {
  const { rows } = await poolOf(db).query<{ id: string }>("SELECT id FROM reservations WHERE details_fetched_at IS NULL ORDER BY created_at LIMIT $1", [limit]);
  return rows.map((r) => r.id);
}

/** The same for every reservation of a backfill page at once. */
export async function markManyLookedUpIn(sql: Sql, ids: string[]): Promise<void> {
  if (ids.length > 0) await sql.query("UPDATE reservations SET last_reconciled_at = now() WHERE id = ANY($1::text[])", [ids]);
}

/** Reservations whose id or Flovi external id is `q` (indexes: primary key, reservations_external_id_idx). */
export async function searchReservations(db: Database, q: string, limit = 20) {
  return prismaOf(db).reservation.findMany({
    where: { OR: [{ id: q }, { externalId: q }] },
    orderBy: { lastChangedAt: "desc" },
    take: limit,
    select: { id: true, externalId: true, state: true, lastChangedAt: true },
  });
}

interface TimelineTransition {
  id: string;
  fromState: string | null;
  toState: string;
  outcome: string;
  source: string;
  occurredAt: Date;
  receivedAt: Date;
  eventId: string | null;
  inbound: { id: string; status: string; statusReason: string | null; rawBody: Buffer | null; requestId: string | null; warnings: PayloadWarningView[] } | null;
}

/**
 * A reservation's every transition in the order applied (index: (reservation_id, id)), each with the stored
 * delivery that caused it (primary key); a body past its retention is null.
 */
export async function reservationTimeline(db: Database, id: string) {
  const reservation = await prismaOf(db).reservation.findUnique({
    where: { id },
    include: {
      transitions: {
        orderBy: { id: "asc" },
        include: { delivery: { select: { id: true, status: true, statusReason: true, rawBody: true, requestId: true, bodyPrunedAt: true, warnings: true } } },
      },
    },
  });
  if (!reservation) return null;
  const transitions: TimelineTransition[] = reservation.transitions.map((t) => ({
    id: t.id.toString(),
    fromState: t.fromState,
    toState: t.toState,
    outcome: t.outcome,
    source: t.source,
    occurredAt: t.occurredAt,
    receivedAt: t.receivedAt,
    eventId: t.eventId,
    inbound: t.delivery
      ? {
          id: t.delivery.id,
          status: t.delivery.status,
          statusReason: t.delivery.statusReason,
          rawBody: t.delivery.bodyPrunedAt ? null : Buffer.from(t.delivery.rawBody),
          requestId: t.delivery.requestId,
          warnings: (t.delivery.warnings ?? []) as unknown as PayloadWarningView[],
        }
      : null,
  }));
  return {
    id: reservation.id,
    externalId: reservation.externalId,
    state: reservation.state,
    cancellationReason: reservation.cancellationReason,
    lastChangedAt: reservation.lastChangedAt,
    reconcileStoppedReason: reservation.reconcileStoppedReason,
    finalCostsOverdueAt: reservation.finalCostsOverdueAt,
    transitions,
  };
}
