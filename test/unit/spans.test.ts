// The hub's span helpers against a real SDK (spans kept in memory): an incoming request is one span, the
// HTTP instrumentation's when there is one, else one the hub starts continuing the caller's traceparent.
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { carrierOf, contextOf, inRequestSpan } from "../../src/observability/spans.js";

const exporter = new InMemorySpanExporter();
let provider: TracerProvider;

beforeAll(() => {
  provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  // What the SDK's start registers (src/observability/otel-sdk.ts).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

const callerTrace = "0af7651916cd43dd8448eb211c80319c";
const callerSpan = "b7ad6b7169203331";
const webhook = (given: Record<string, string>) => ({ method: "POST", route: "/webhooks/flovi", headers: given });
const headers = { traceparent: `00-${callerTrace}-${callerSpan}-01`, "content-type": "application/json" };

describe("inRequestSpan", () => {
  it("annotates the server span the HTTP instrumentation made, and makes no span of its own", async () => {
    const server = provider.getTracer("http").startSpan("POST /webhooks/flovi", { kind: SpanKind.SERVER }, contextOf(headers));
    const stored = await context.with(trace.setSpan(context.active(), server), () =>
      inRequestSpan(webhook(headers), { "hub.provider": "flovi" }, async (span) => {
        span.setAttribute("hub.outcome", "accepted");
        return carrierOf();
      }),
    );
    server.end();

    const finished = exporter.getFinishedSpans();
    expect(finished).toHaveLength(1);
    expect(finished[0]!.attributes).toMatchObject({ "hub.provider": "flovi", "hub.outcome": "accepted" });
    // What is stored with the delivery continues that same span.
    expect(stored?.traceparent).toBe(`00-${callerTrace}-${server.spanContext().spanId}-01`);
  });

  it("without one, starts a server span continuing the request's traceparent", async () => {
    const stored = await inRequestSpan(webhook(headers), { "hub.provider": "flovi" }, async () => carrierOf());

    const [span] = exporter.getFinishedSpans();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.name).toBe("POST /webhooks/flovi");
    expect(span!.attributes).toMatchObject({ "http.request.method": "POST", "http.route": "/webhooks/flovi" });
    expect(span!.spanContext().traceId).toBe(callerTrace);
    expect(span!.parentSpanContext?.spanId).toBe(callerSpan);
    expect(span!.attributes["hub.provider"]).toBe("flovi");
    expect(stored?.traceparent).toBe(`00-${callerTrace}-${span!.spanContext().spanId}-01`);
  });

  it("without a traceparent either, starts a new trace", async () => {
    await inRequestSpan(webhook({ "content-type": "application/json" }), {}, async () => null);

    const [span] = exporter.getFinishedSpans();
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.spanContext().traceId).not.toBe(callerTrace);
  });

  it("a request the sampler left out stays left out: its context is stored, unsampled, and no span is made", async () => {
    const unsampled = { traceparent: `00-${callerTrace}-${callerSpan}-00` };
    const server = provider.getTracer("http").startSpan("POST /webhooks/flovi", { kind: SpanKind.SERVER }, contextOf(unsampled));
    expect(server.isRecording()).toBe(false);
    const stored = await context.with(trace.setSpan(context.active(), server), () => inRequestSpan(webhook(unsampled), {}, async () => carrierOf()));

    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(stored?.traceparent).toBe(`00-${callerTrace}-${server.spanContext().spanId}-00`);
  });

  it("records a thrown error on the span it started", async () => {
    await expect(inRequestSpan(webhook(headers), {}, async () => Promise.reject(new Error("storage down")))).rejects.toThrow("storage down");

    const [span] = exporter.getFinishedSpans();
    expect(span!.status.message).toBe("storage down");
    expect(span!.events.map((e) => e.name)).toEqual(["exception"]);
  });
});
