// The drain's spans (tracing on only). One `flovi.inbox.apply_batch` span per transaction, linked to the
// span that stored every delivery it applies; under each delivery's stored context (the ingress request that
// received it, however long ago and in whichever process), one `flovi.delivery.apply` span, linked back to the
// batch. That span's context goes with the delivery's event, so the event's deliveries continue its trace.
import { context, ROOT_CONTEXT, trace, type Span } from "@opentelemetry/api";
import type { InboundOutcome, InboxRow } from "../../domain/reservation-plan.js";
import { carrierOf, contextOf, linkTo, tracer, tracingOn } from "../../observability/spans.js";

export interface TracedBatch {
  /** The rows, each carrying its apply span's context. */
  rows: InboxRow[];
  /** Runs `fn` under the batch span: the batch's write statements are its children. */
  within<T>(fn: () => Promise<T>): Promise<T>;
  /** Records each delivery's outcome on its span and ends every span. */
  end(outcomes: readonly InboundOutcome[], error?: unknown): void;
}

export function traceInboxBatch(rows: InboxRow[]): TracedBatch {
  if (!tracingOn() || rows.length === 0) return { rows, within: (fn) => fn(), end: () => undefined };
  const batch = tracer.startSpan(
    "flovi.inbox.apply_batch",
    { attributes: { "hub.batch.size": rows.length }, links: rows.flatMap((r) => linkTo(r.traceContext)) },
    context.active(),
  );
  const spans = new Map<string, Span>();
  const traced = rows.map((row) => {
    const span = tracer.startSpan(
      "flovi.delivery.apply",
      { attributes: { "hub.inbound_delivery_id": row.id, "hub.reservation_id": row.orderingKey }, links: [{ context: batch.spanContext() }] },
      contextOf(row.traceContext),
    );
    spans.set(row.id, span);
    return { ...row, traceContext: carrierOf(trace.setSpan(ROOT_CONTEXT, span)) };
  });
  return {
    rows: traced,
    within: (fn) => context.with(trace.setSpan(context.active(), batch), fn),
    end(outcomes, error) {
      for (const outcome of outcomes) spans.get(outcome.id)?.setAttributes({ "hub.outcome": outcome.status, "hub.outcome.reason": outcome.reason });
      for (const span of spans.values()) {
        if (error) span.recordException(error as Error);
        span.end();
      }
      if (error) batch.recordException(error as Error);
      batch.end();
    },
  };
}
