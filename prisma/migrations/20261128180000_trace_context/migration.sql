-- OpenTelemetry (docs/observability.md): the W3C trace context ({ traceparent, tracestate }) of the span that
-- stored a Flovi delivery, and of the span that wrote an event, so that the drain (even after a restart or a
-- replay) and every delivery attempt (in any worker process) continue the same trace. NULL when tracing is off.
ALTER TABLE "inbound_deliveries" ADD COLUMN "trace_context" JSONB;
ALTER TABLE "events" ADD COLUMN "trace_context" JSONB;
