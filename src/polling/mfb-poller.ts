// One poll of one MFB order: fetch tracking, store the carrier events not seen before, fold the parcels
// into the order's status, write the events to the outbox, and set the next poll time — in one transaction.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { writeEvents } from "../db/outbox.js";
import { withTransaction, type Sql } from "../db/sql.js";
import type { NewEvent } from "../domain/events.js";
import type { MfbClient } from "../providers/mfb/client.js";
import { englishLabel, foldParcels, isFinal, statusOfCode, type ParcelTracking, type ShipmentStatus } from "../providers/mfb/tracking.js";
import { ProviderError } from "./provider-error.js";
import { recordPollFailure, type PollOutcome, type PollSettings } from "./failures.js";
import { nextPollDelayMs, providerPausedUntil } from "./schedule.js";

export const MFB = "mfb";

export async function pollMfbOrder(
  deps: { db: Database; client: MfbClient; log: Logger; settings: PollSettings },
  orderId: string,
): Promise<PollOutcome> {
  const { db, log, settings } = deps;
  const order = await db.prisma.mfbOrder.findUnique({ where: { id: orderId } });
  if (!order || !order.active) return { kind: "skipped", reason: order ? "inactive" : "unknown" };
  const pausedUntil = await providerPausedUntil(db, MFB);
  if (pausedUntil) {
    await db.prisma.mfbOrder.update({ where: { id: orderId }, data: { nextPollAt: pausedUntil } });
    return { kind: "paused", until: pausedUntil };
  }

  let parcels: ParcelTracking[];
  try {
    parcels = await deps.client.getTracking(orderId);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return recordPollFailure(deps, {
      provider: MFB,
      table: "mfb_orders",
      key: orderId,
      failures: order.consecutiveFailures,
      notFoundReason: "order_not_found",
      authMessage: "MFB REFUSED OUR CREDENTIALS: all MFB polling paused; check MFB_LOGIN / MFB_PASSWORD",
    }, error);
  }

  const outcome = await withTransaction(db, (sql) => applyTracking(sql, orderId, parcels, settings));
  if (outcome.kind === "polled" && outcome.newEvents > 0) log.info({ orderId, newEvents: outcome.newEvents, status: outcome.status }, "mfb tracking updated");
  return outcome;
}

interface FreshEvent {
  parcelIndex: number;
  code: string;
  happenedAt: Date;
  label: Record<string, string>;
  location?: unknown;
  details?: unknown;
}

const INSERT_EVENTS = `
INSERT INTO mfb_tracking_events (order_id, parcel_index, code, happened_at, label, location, details)
SELECT $1::uuid, t.parcel_index, t.code, t.happened_at, t.label::jsonb, t.location::jsonb, t.details::jsonb
  FROM unnest($2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
       AS t(parcel_index, code, happened_at, label, location, details)
ON CONFLICT (order_id, parcel_index, code, happened_at) DO NOTHING
RETURNING parcel_index, code, happened_at`;

const UPSERT_PARCELS = `
INSERT INTO mfb_parcels (order_id, parcel_index, status, last_code, last_event_at)
SELECT $1::uuid, t.parcel_index, t.status, t.code, t.at
  FROM unnest($2::int[], $3::text[], $4::text[], $5::timestamptz[]) AS t(parcel_index, status, code, at)
ON CONFLICT (order_id, parcel_index) DO UPDATE SET status = EXCLUDED.status, last_code = EXCLUDED.last_code, last_event_at = EXCLUDED.last_event_at`;

const eventKey = (parcelIndex: number, code: string, at: Date) => `${parcelIndex}|${code}|${at.getTime()}`;

async function applyTracking(sql: Sql, orderId: string, parcels: ParcelTracking[], settings: PollSettings): Promise<PollOutcome> {
  const [order] = await sql.query<{ status: string | null; sequence: number; active: boolean; reference: string | null }>(
    "SELECT status, sequence, active, reference FROM mfb_orders WHERE id = $1 FOR UPDATE",
    [orderId],
  );
  if (!order || !order.active) return { kind: "skipped", reason: "inactive" };

  // Store every event in one statement; the unique key (order, parcel, code, happened_at) tells which are new.
  const reported = parcels.flatMap((p) =>
    p.events.map((e) => ({ parcelIndex: p.parcel_index, code: e.code, happenedAt: new Date(e.happened_at), label: e.label, location: e.location, details: e.details })),
  );
  const inserted =
    reported.length === 0
      ? []
      : await sql.query<{ parcel_index: number; code: string; happened_at: Date }>(INSERT_EVENTS, [
          orderId,
          reported.map((e) => e.parcelIndex),
          reported.map((e) => e.code),
          reported.map((e) => e.happenedAt),
          reported.map((e) => JSON.stringify(e.label)),
          reported.map((e) => (e.location ? JSON.stringify(e.location) : null)),
          reported.map((e) => (e.details ? JSON.stringify(e.details) : null)),
        ]);
  const insertedKeys = new Set(inserted.map((r) => eventKey(r.parcel_index, r.code, r.happened_at)));
  const fresh: FreshEvent[] = [];
  for (const e of reported) {
    const key = eventKey(e.parcelIndex, e.code, e.happenedAt);
    if (insertedKeys.delete(key)) fresh.push(e);
  }
  fresh.sort((a, b) => a.happenedAt.getTime() - b.happenedAt.getTime() || a.parcelIndex - b.parcelIndex);

  // Each parcel's status is that of its latest status-bearing event, whatever order they arrived in.
  const stored = await sql.query<{ parcel_index: number; code: string; happened_at: Date }>(
    "SELECT parcel_index, code, happened_at FROM mfb_tracking_events WHERE order_id = $1 ORDER BY happened_at, id",
    [orderId],
  );
  const parcelState = new Map<number, { status: ShipmentStatus; code: string; at: Date }>();
  for (const e of stored) {
    const status = statusOfCode(e.code);
    if (status) parcelState.set(e.parcel_index, { status, code: e.code, at: e.happened_at });
  }
  if (fresh.length > 0 && parcelState.size > 0) {
    const entries = [...parcelState];
    await sql.query(UPSERT_PARCELS, [orderId, entries.map(([i]) => i), entries.map(([, s]) => s.status), entries.map(([, s]) => s.code), entries.map(([, s]) => s.at)]);
  }
  const statuses = [...parcelState.values()].map((s) => s.status);
  const folded = foldParcels(statuses);
  const final = isFinal(statuses);

  const events: NewEvent[] = [];
  let sequence = order.sequence;
  for (const e of fresh) {
    sequence += 1;
    events.push({
      entity: "shipment",
      entityId: orderId,
      externalId: order.reference,
      type: "tracking_event",
      status: folded ?? "created",
      previousStatus: order.status,
      providerStatus: e.code,
      sequence,
      time: e.happenedAt,
      details: {
        parcelIndex: e.parcelIndex,
        code: e.code,
        label: englishLabel(e),
        labels: e.label,
        ...(e.location ? { location: e.location } : {}),
        ...(e.details ? { carrierDetails: e.details } : {}),
        happenedAt: e.happenedAt.toISOString(),
      },
      dedupeKey: `mfb:${orderId}:${e.parcelIndex}:${e.code}:${e.happenedAt.toISOString()}`,
    });
  }
  if (folded && folded !== order.status) {
    sequence += 1;
    const latest = fresh.at(-1);
    events.push({
      entity: "shipment",
      entityId: orderId,
      externalId: order.reference,
      type: folded,
      status: folded,
      previousStatus: order.status,
      providerStatus: latest?.code ?? folded,
      sequence,
      time: latest?.happenedAt ?? new Date(),
      details: { parcels: [...parcelState].map(([parcelIndex, s]) => ({ parcelIndex, status: s.status, code: s.code })) },
      dedupeKey: `mfb:${orderId}:status:${sequence}:${folded}`,
    });
  }
  await writeEvents(sql, events);

  const now = new Date();
  const moving = folded === "out_for_delivery" || folded === "exception";
  await sql.query(
    `UPDATE mfb_orders SET status = $2, sequence = $3, last_polled_at = $4, consecutive_failures = 0, last_error = NULL,
            active = $5, next_poll_at = $6, stopped_reason = $7, stopped_at = $8, updated_at = now()
      WHERE id = $1`,
    [
      orderId,
      folded,
      sequence,
      now,
      !final,
      final ? null : new Date(now.getTime() + nextPollDelayMs(settings.intervalMs, { moving })),
      final ? "delivered" : null,
      final ? now : null,
    ],
  );
  return { kind: "polled", newEvents: fresh.length, status: folded, final };
}
