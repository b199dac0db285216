// One stored Flovi delivery applied now, outside the drain: an admin replay, or a row filed under another
// key. It takes the same locks in the same order as the drain (./inbox.ts) and writes through the same plan.
import type { Database } from "../../db/client.js";
import type { NewDelivery } from "../../db/fan-out.js";
import { loadInbound, loadInbox, markInbound } from "../../db/inbox.js";
import { loadReservationSnapshots, lockReservations, writeReportPlan } from "../../db/reservation-writes.js";
import { type Sql, withTransaction } from "../../db/sql.js";
import type { CloudEvent } from "../../domain/events.js";
import { parseFloviBody } from "../../providers/flovi/payload.js";
import { planInbox, planReports, type ReportPlan } from "./plan.js";

export type ApplyResult =
  | { kind: "applied"; events: CloudEvent[]; deliveries: NewDelivery[]; deferred?: number; outcome: string }
  | { kind: "already_done"; status: string }
  | { kind: "not_found" }
  | { kind: "rejected"; reason: string };

/**
 * Applies one stored delivery now (admin replay; rows filed under another key). A waiting (`received`) row is
 * applied together with the rows of its reservation received before it, in order. With `force`, a row that
 * was rejected or set aside as failed is applied again; one already applied stays applied.
 */
export async function applyStoredDelivery(
  deps: { db: Database },
  inboundDeliveryId: string,
  opts: {
    force?: boolean;
    /** Runs in the same transaction, after the outcome is known (the admin replay's audit row). */
    audit?: (sql: Sql, outcome: { kind: string; outcome?: string }) => Promise<void>;
  } = {},
): Promise<ApplyResult> {
  const result = await withTransaction(deps.db, async (sql) => {
    const outcome = await applyIn(sql, inboundDeliveryId, opts.force ?? false);
    if (opts.audit && outcome.kind !== "not_found") await opts.audit(sql, { kind: outcome.kind, outcome: "outcome" in outcome ? outcome.outcome : undefined });
    return outcome;
  });
  return result;
}

async function applyIn(sql: Sql, inboundDeliveryId: string, force: boolean): Promise<ApplyResult> {
  {
    const peek = await loadInbound(sql, inboundDeliveryId);
    if (!peek) return { kind: "not_found" } as const;
    const verdict = parseFloviBody(peek.rawBody);
    // The reservation's lock first, then the row's: the order a drain takes them in.
    if (verdict.kind === "status_change") await lockReservations(sql, [verdict.change.reservationId]);
    const row = (await loadInbound(sql, inboundDeliveryId, true))!;
    const runnable = row.status === "received" || (force && (row.status === "failed" || row.status === "rejected"));
    if (!runnable) return { kind: "already_done", status: row.status } as const;
    if (verdict.kind !== "status_change") {
      await markInbound(sql, inboundDeliveryId, verdict.kind === "ignored" ? "ignored" : "rejected", verdict.reason);
      return { kind: "rejected", reason: verdict.reason } as const;
    }
    const reservationId = verdict.change.reservationId;
    const plan =
      row.status === "received" && row.orderingKey === reservationId
        ? await planWaitingUpTo(sql, reservationId, inboundDeliveryId)
        : await planOne(sql, row.id, verdict, row);
    const { deliveries, deferred } = await writeReportPlan(sql, plan);
    const outcome = plan.inbound.find((o) => o.id === inboundDeliveryId)?.reason ?? "processed";
    return { kind: "applied", events: plan.events.map((e) => e.envelope), deliveries, deferred, outcome } as const;
  }
}

async function planWaitingUpTo(sql: Sql, reservationId: string, inboundDeliveryId: string): Promise<ReportPlan> {
  const { rows, reservations } = await loadInbox(sql, [reservationId], 10_000);
  const upTo = rows.findIndex((r) => r.id === inboundDeliveryId);
  return planInbox(rows.slice(0, upTo + 1), reservations);
}

async function planOne(
  sql: Sql,
  inboundDeliveryId: string,
  verdict: Extract<ReturnType<typeof parseFloviBody>, { kind: "status_change" }>,
  row: { receivedAt: Date; requestId: string | null; traceContext?: Record<string, string> | null },
): Promise<ReportPlan> {
  const reservations = await loadReservationSnapshots(sql, [verdict.change.reservationId]);
  return planReports(
    [
      {
        change: verdict.change,
        source: "webhook",
        receivedAt: row.receivedAt,
        inboundDeliveryId,
        dedupeKey: `flovi:delivery:${inboundDeliveryId}`,
        lastPayload: verdict.body,
        requestId: row.requestId,
        // A replay continues the trace of the request that stored the delivery.
        traceContext: row.traceContext ?? null,
      },
    ],
    reservations,
  );
}
