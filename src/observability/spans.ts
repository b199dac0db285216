// The hub's own spans, through the OpenTelemetry API only: without a registered SDK (tracing off, the
// default) every call here is a no-op on the API's non-recording tracer, and no trace context is stored or
// sent. Where the pipeline crosses a process or a restart (inbound delivery → drain, event → delivery
// attempt) the context travels as W3C `traceparent`/`tracestate` stored beside the row (docs/observability.md).
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from "@opentelemetry/api";

export { ROOT_CONTEXT, SpanKind, type Span };

/** W3C trace context as stored with a row and sent as headers: `{ traceparent, tracestate? }`. */
export type TraceCarrier = Record<string, string>;

export const tracer = trace.getTracer("logistics-event-hub");

let on = false;
let hubServerSpans = false;

/** Whether an SDK records spans in this process (OTEL_EXPORTER_OTLP_* set: src/observability/otel-sdk.ts). */
export function tracingOn(): boolean {
  return on;
}

/** Called once by the SDK's start; `hubServerSpans` when the HTTP instrumentation is left out. */
export function markTracingOn(opts: { hubServerSpans: boolean }): void {
  on = true;
  hubServerSpans = opts.hubServerSpans;
}

/** Whether the hub starts each incoming request's server span itself (tracing on, HTTP instrumentation out). */
export function hubStartsServerSpans(): boolean {
  return on && hubServerSpans;
}

/**
 * The active (or given) context as a carrier, or null when there is no span to continue. A span the sampler
 * left out still has a valid context: it is carried (flags 00) so that the whole trace stays left out.
 */
export function carrierOf(ctx: Context = context.active()): TraceCarrier | null {
  const span = trace.getSpanContext(ctx);
  if (!span || !isSpanContextValid(span)) return null;
  const carrier: TraceCarrier = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? carrier : null;
}

/** A context continuing a stored carrier (the root context when there is none). */
export function contextOf(carrier: TraceCarrier | null | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/**
 * Runs `fn` in the span of an incoming request. That is the HTTP instrumentation's server span when it made
 * one (a second span for the same request would repeat it at a cost per request); otherwise (the HTTP
 * instrumentation left out) a server span the hub starts, named by the route, continuing the request's own
 * `traceparent` (a trace the caller started), else a new trace.
 */
export async function inRequestSpan<T>(
  request: { method: string; route: string; headers: Record<string, string | string[] | undefined> },
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const server = trace.getSpan(context.active());
  // A span the sampler left out is annotated too (a no-op): the trace stays left out end to end.
  if (server && isSpanContextValid(server.spanContext())) {
    server.setAttributes(attributes);
    return fn(server);
  }
  const { method, route, headers } = request;
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return inSpan(`${method} ${route}`, { parent, kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": route, ...attributes } }, fn);
}

/** A link to a stored carrier's span, when it names one. */
export function linkTo(carrier: TraceCarrier | null | undefined): Link[] {
  const span = carrier ? trace.getSpanContext(contextOf(carrier)) : undefined;
  return span ? [{ context: span }] : [];
}

/** A link to the active span, when one records. */
export function linkToActive(): Link[] {
  const span = trace.getSpan(context.active());
  return span?.isRecording() ? [{ context: span.spanContext() }] : [];
}

/** Runs `fn` in a new span (child of `parent`, else of the active context); ends it, recording a thrown error. */
export async function inSpan<T>(
  name: string,
  opts: { parent?: Context; kind?: SpanKind; attributes?: Attributes; links?: Link[] },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes, links: opts.links },
    opts.parent ?? context.active(),
  );
  try {
    return await context.with(trace.setSpan(opts.parent ?? context.active(), span), () => fn(span));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

// The trace contexts of events this process wrote lately: their first attempts (claimed here, right after the
// write) need no look-up; a retry elsewhere reads the stored one.
const RECENT_LIMIT = 10_000;
const recent = new Map<string, TraceCarrier>();

/** Remembers the context an event was written with (tracing on only). */
export function rememberEventTrace(eventId: string, carrier: TraceCarrier | null | undefined): void {
  if (!on || !carrier) return;
  recent.set(eventId, carrier);
  if (recent.size > RECENT_LIMIT) recent.delete(recent.keys().next().value!);
}

/** The context an event was written with in this process, if it was lately. */
export function recentEventTrace(eventId: string): TraceCarrier | undefined {
  return recent.get(eventId);
}

/** The active span's ids for a log line, or nothing. */
export function logTraceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  if (!span?.isRecording()) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
