// Applies one stored Flovi delivery: reservation upsert, transition row, outbox event and the delivery's
// own status, all in one transaction. Processing a delivery twice changes nothing the second time.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import { applyReservationReport } from "../../db/reservations.js";
import { withTransaction, type Sql } from "../../db/sql.js";
import type { CloudEvent } from "../../domain/events.js";
import { parseFloviBody } from "./payload.js";

export type ApplyResult =
  | { kind: "applied"; events: CloudEvent[]; outcome: string }
  | { kind: "already_done"; status: string }
  | { kind: "not_found" }
  | { kind: "rejected"; reason: string };

export async function applyFloviDelivery(
  deps: { db: Database; log: Logger },
  deliveryId: string,
  opts: { force?: boolean } = {},
): Promise<ApplyResult> {
  return withTransaction(deps.db, async (sql) => {
    const [delivery] = await sql.query<{ id: string; status: string; raw_body: Buffer; received_at: Date; request_id: string | null }>(
      "SELECT id, status, raw_body, received_at, request_id FROM inbound_deliveries WHERE id = $1 FOR UPDATE",
      [deliveryId],
    );
    if (!delivery) return { kind: "not_found" } as const;
    // A replay (force) re-runs a delivery that was rejected or failed; one already applied stays applied.
    const runnable = delivery.status === "received" || (opts.force && (delivery.status === "failed" || delivery.status === "rejected"));
    if (!runnable) return { kind: "already_done", status: delivery.status } as const;

    const verdict = parseFloviBody(Buffer.from(delivery.raw_body));
    if (verdict.kind !== "status_change") {
      await markDelivery(sql, deliveryId, verdict.kind === "ignored" ? "ignored" : "rejected", verdict.reason);
      return { kind: "rejected", reason: verdict.reason } as const;
    }

    const report = await applyReservationReport(sql, {
      change: verdict.change,
      source: "webhook",
      receivedAt: delivery.received_at,
      deliveryId,
      dedupeKey: `flovi:delivery:${deliveryId}`,
      lastPayload: verdict.body,
      requestId: delivery.request_id,
    });
    await markDelivery(sql, deliveryId, "processed", report.outcome);
    return { kind: "applied", events: report.events, outcome: report.outcome } as const;
  });
}

function markDelivery(sql: Sql, id: string, status: string, reason: string) {
  return sql.query(
    "UPDATE inbound_deliveries SET status = $2, status_reason = $3, processed_at = now(), process_count = process_count + 1 WHERE id = $1",
    [id, status, reason],
  );
}
