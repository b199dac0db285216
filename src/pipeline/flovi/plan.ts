// Pure: turns a batch of stored Flovi deliveries (in receipt order) and the current state of their
// reservations into the writes that apply them: reservation rows, transitions, events, and each delivery's
// outcome. The state machine (src/domain/reservation.ts) decides every report; this only folds them in
// order, so a report is `stale` only when a higher state was *received* before it.
import { randomUUID } from "node:crypto";
import { createEvent } from "../../domain/event-catalog.js";
import { decideTransition, isReservationState } from "../../domain/reservation.js";
import { floviCosts } from "../../providers/flovi/costs.js";
import { parseFloviBody, type StatusChange } from "../../providers/flovi/payload.js";

export type {
  InboxRow,
  ReservationSnapshot,
  ReportPlan,
} from "../../domain/reservation-plan.js";
import type { InboundOutcome, InboxRow, ReportPlan, ReservationSnapshot, ReservationWrite } from "../../domain/reservation-plan.js";

export interface InboxPlan extends ReportPlan {
  /** Rows whose body names another reservation than their ordering key (stored before keys existed). */
  misfiled: InboxRow[];
}

export interface Report {
  change: StatusChange;
  source: "webhook" | "reconciliation";
  receivedAt: Date;
  inboundDeliveryId: string | null;
  dedupeKey: string;
  lastPayload: unknown;
  requestId: string | null;
  /** Extra event details (reconciliation: what the Partner API returned beside the status). */
  details?: Record<string, unknown>;
  /** The span applying this report, for its event's deliveries to continue (null: tracing off). */
  traceContext?: Record<string, string> | null;
}

/** Folds reports in order over the reservations' current state. `current` holds each reservation at most once. */
export function planReports(reports: Report[], current: ReservationSnapshot[]): ReportPlan {
  const state = new Map(current.map((r) => [r.id, r]));
  const writes = new Map<string, ReservationWrite>();
  const plan: ReportPlan = { reservations: [], transitions: [], events: [], inbound: [] };

  for (const report of reports) {
    const { change } = report;
    const known = state.get(change.reservationId);
    const currentState = known && isReservationState(known.state) ? known.state : null;
    const decision = decideTransition(currentState, change.state);
    const occurredAt = change.occurredAt ?? report.receivedAt;
    // Flovi's own time when its webhook carried a usable one; otherwise when the hub learnt of the change.
    const timeSource = report.source === "webhook" && change.occurredAt ? "provider" : "hub";
    const externalId = change.externalId ?? known?.externalId ?? null;
    let eventId: string | null = null;

    // A cancellation learnt without its reason (from the API), whose webhook now brings the reason: the
    // state does not change, but subscribers get the reason in a `reservation.updated`.
    const reasonArrives =
      !decision.emits && currentState === "cancelled" && change.state === "cancelled" && change.cancellationReason !== null && !known?.cancellationReason;
    if (reasonArrives && known) {
      const sequence = known.sequence + 1;
      const envelope = createEvent(
        {
          entity: "reservation",
          entityId: change.reservationId,
          externalId,
          type: "updated",
          status: "cancelled",
          previousStatus: "cancelled",
          providerStatus: "cancelled",
          sequence,
          time: occurredAt,
          timeSource,
          details: { ...known.details, cancellationReason: change.cancellationReason, updated: ["cancellationReason"] },
          dedupeKey: `${report.dedupeKey}:reason`,
        },
        randomUUID(),
      );
      eventId = envelope.id;
      plan.events.push({ envelope, dedupeKey: `${report.dedupeKey}:reason`, requestId: report.requestId, traceContext: report.traceContext ?? null });
      const previous = writes.get(change.reservationId);
      writes.set(change.reservationId, {
        id: known.id,
        externalId,
        state: "cancelled",
        cancellationReason: change.cancellationReason,
        finalCosts: previous?.finalCosts ?? null,
        vehicles: previous?.vehicles ?? null,
        lastPayload: report.lastPayload,
        sequence,
        lastChangedAt: known.lastChangedAt,
      });
      state.set(change.reservationId, { ...known, externalId, sequence, cancellationReason: change.cancellationReason });
    } else if (decision.emits) {
      const sequence = (known?.sequence ?? 0) + 1;
      // Costs belong to the final_costs state; a price sent with another state is not the final cost.
      const finalCosts = change.state === "final_costs" ? change.costs : null;
      // The Partner API's details (once fetched) ride on every event; what this report says comes on top.
      const details: Record<string, unknown> = { ...known?.details, ...report.details };
      if (change.cancellationReason) details.cancellationReason = change.cancellationReason;
      if (finalCosts) {
        // Money in the one shape (docs/events.md); fields it cannot be read from are passed on as sent.
        const priced = floviCosts(finalCosts);
        if (priced) details.finalCosts = priced;
        else details.finalCostsRaw = finalCosts;
      }
      if (change.vehicles) details.vehicles = change.vehicles;
      if (report.source === "reconciliation") details.source = "reconciliation";
      const envelope = createEvent(
        {
          entity: "reservation",
          entityId: change.reservationId,
          externalId,
          type: change.state,
          status: change.state,
          previousStatus: currentState,
          // Costs after a cancellation keep the reservation cancelled.
          phase: decision.outcome === "costs_after_cancel" ? "cancelled" : undefined,
          providerStatus: change.state,
          sequence,
          time: occurredAt,
          timeSource,
          details,
          dedupeKey: report.dedupeKey,
        },
        randomUUID(),
      );
      eventId = envelope.id;
      plan.events.push({ envelope, dedupeKey: report.dedupeKey, requestId: report.requestId, traceContext: report.traceContext ?? null });
      const previous = writes.get(change.reservationId);
      const lastChangedAt = known && known.lastChangedAt > occurredAt ? known.lastChangedAt : occurredAt;
      writes.set(change.reservationId, {
        id: change.reservationId,
        externalId,
        state: decision.nextState,
        cancellationReason: change.state === "cancelled" ? change.cancellationReason : (known?.cancellationReason ?? null),
        finalCosts: finalCosts ?? previous?.finalCosts ?? null,
        vehicles: change.vehicles ?? previous?.vehicles ?? null,
        lastPayload: report.lastPayload,
        sequence,
        lastChangedAt,
      });
      state.set(change.reservationId, {
        id: change.reservationId,
        state: decision.nextState,
        externalId,
        sequence,
        cancellationReason: change.state === "cancelled" ? change.cancellationReason : (known?.cancellationReason ?? null),
        lastChangedAt,
        details: known?.details ?? null,
      });
    } else if (known && change.externalId && !known.externalId) {
      // A late report can still teach us the partner's reference.
      const previous = writes.get(change.reservationId);
      writes.set(change.reservationId, {
        ...(previous ?? {
          id: known.id,
          state: currentState ?? change.state,
          cancellationReason: known.cancellationReason,
          finalCosts: null,
          vehicles: null,
          lastPayload: null,
          sequence: known.sequence,
          lastChangedAt: known.lastChangedAt,
        }),
        externalId: change.externalId,
      });
      state.set(change.reservationId, { ...known, externalId: change.externalId });
    }

    plan.transitions.push({
      reservationId: change.reservationId,
      fromState: currentState,
      toState: change.state,
      outcome: decision.outcome,
      source: report.source,
      occurredAt,
      receivedAt: report.receivedAt,
      inboundDeliveryId: report.inboundDeliveryId,
      eventId,
    });
    if (report.inboundDeliveryId) plan.inbound.push({ id: report.inboundDeliveryId, status: "processed", reason: decision.outcome });
  }
  plan.reservations = [...writes.values()];
  return plan;
}

/** Plans a batch of stored webhook deliveries (receipt order). */
export function planInbox(rows: InboxRow[], current: ReservationSnapshot[]): InboxPlan {
  const reports: Report[] = [];
  const refused: InboundOutcome[] = [];
  const misfiled: InboxRow[] = [];
  for (const row of rows) {
    const verdict = parseFloviBody(row.rawBody);
    if (verdict.kind !== "status_change") {
      refused.push({ id: row.id, status: verdict.kind === "ignored" ? "ignored" : "rejected", reason: verdict.reason });
      continue;
    }
    if (verdict.change.reservationId !== row.orderingKey) {
      misfiled.push(row);
      continue;
    }
    reports.push({
      change: verdict.change,
      source: "webhook",
      receivedAt: row.receivedAt,
      inboundDeliveryId: row.id,
      dedupeKey: `flovi:delivery:${row.id}`,
      lastPayload: verdict.body,
      requestId: row.requestId,
      traceContext: row.traceContext ?? null,
    });
  }
  const plan = planReports(reports, current);
  return { ...plan, inbound: [...plan.inbound, ...refused], misfiled };
}
