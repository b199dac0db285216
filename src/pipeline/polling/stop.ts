// Stopping a tracked item short of a final status, and telling subscribers so, in one transaction: the row
// stops (once: a second stop finds it inactive and says nothing) and `<entity>.tracking_stopped` is written to
// the outbox with the next sequence number. Used by failed polls (failures.ts) and an operator's DELETE.
import { writeEvents } from "../../db/outbox.js";
import type { Sql } from "../../db/sql.js";
import { stopTrackedIn, type StoppedRow, type TrackedKind } from "../../db/tracked-items.js";
import { mfbMoney } from "../../domain/money.js";
import { trackingStoppedEvent, type TrackingStopReason } from "../../domain/tracking-stop.js";

/** What a shipment's or a rental's events carry about it beside the status (shared with the pollers). */
export function shipmentFacts(row: { carrier: string | null; product: string | null; price?: unknown }): Record<string, unknown> {
  const price = mfbMoney(row.price);
  return { ...(row.carrier ? { carrier: row.carrier } : {}), ...(row.product ? { product: row.product } : {}), ...(price ? { price } : {}) };
}

function facts(kind: TrackedKind, row: StoppedRow): Record<string, unknown> {
  return kind === "mfb" ? shipmentFacts(row) : { bookingCode: row.key, localNumber: row.local_number };
}

/** Stops the item and writes its tracking_stopped event; false when it was not active. */
export async function stopTracking(
  sql: Sql,
  input: { kind: TrackedKind; key: string; reason: TrackingStopReason; message: string; lastError: string | null; at?: Date },
): Promise<boolean> {
  const row = await stopTrackedIn(sql, input.kind, input.key, input.reason, input.lastError);
  if (!row) return false;
  await writeEvents(sql, [
    trackingStoppedEvent({
      entity: input.kind === "mfb" ? "shipment" : "rental",
      entityId: row.key,
      externalId: row.external_id,
      status: row.status,
      providerStatus: row.status,
      sequence: row.sequence,
      reason: input.reason,
      message: input.message,
      at: input.at ?? new Date(),
      details: facts(input.kind, row),
    }),
  ]);
  return true;
}
