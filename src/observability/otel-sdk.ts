// OpenTelemetry tracing, configured only by the standard OTEL_* variables: on when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not
// "true"), exporting OTLP over HTTP; off otherwise, when nothing here is even loaded (main.ts imports this
// module only then). It must start before the modules it instruments load: main.ts imports the runtime after.
//
// Instrumented: incoming and outgoing HTTP (node:http, so the ingress and the webhook client; undici, so the
// provider clients' fetch), Express, pg and ioredis (only inside a traced operation: a worker's idle Redis
// polling makes no spans), and BullMQ through bullmq-otel (src/queues/telemetry.ts). The hub's own spans are
// in src/observability/spans.ts.
import { register } from "node:module";
import { createAddHookMessageChannel } from "import-in-the-middle";
import { context, propagation, trace } from "@opentelemetry/api";
import type { Instrumentation } from "@opentelemetry/instrumentation";
import { markTracingOn } from "./spans.js";
import {
  attributeValueLengthLimit,
  batchProcessorSettings,
  enabledInstrumentations,
  type InstrumentationName,
  redisStatement,
  samplerChoice,
} from "./otel-settings.js";

const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

const jsonProtocol = () => (process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL) === "http/json";

/**
 * Starts the SDK for a process of this role (`api`, `worker`, `all`); resolves with its shutdown (flushes what
 * is buffered). `leftOut` is told which instrumentations the profile leaves out, for those the hub turns on
 * itself (BullMQ's: src/queues/telemetry.ts).
 */
export async function startTracing(role: string, leftOut: (name: InstrumentationName) => void = () => {}): Promise<{ shutdown(): Promise<void> }> {
  // Read first: an unknown instrumentation or sampler stops the start with a message naming the known ones.
  const enabled = enabledInstrumentations();
  const sampling = samplerChoice();
  // ESM: the packages this service imports are hooked as they load (import-in-the-middle), CommonJS ones too.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);

  const [
    sdk,
    { AsyncLocalStorageContextManager },
    core,
    { OTLPTraceExporter },
    { detectResources, envDetector, resourceFromAttributes },
    { registerInstrumentations },
  ] = await Promise.all([
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/core"),
    // OTLP/HTTP with protobuf bodies (the protocol's default), or JSON when OTEL_EXPORTER_OTLP_PROTOCOL says http/json.
    jsonProtocol() ? import("@opentelemetry/exporter-trace-otlp-http") : import("@opentelemetry/exporter-trace-otlp-proto"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/instrumentation"),
  ]);
  const root =
    sampling.kind === "always_on"
      ? new sdk.AlwaysOnSampler()
      : sampling.kind === "always_off"
        ? new sdk.AlwaysOffSampler()
        : new sdk.TraceIdRatioBasedSampler(sampling.ratio);
  const provider = new sdk.TracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME apply on top (the environment detector reads them).
    resource: resourceFromAttributes({
      "service.name": "logistics-event-hub",
      "service.instance.role": role,
      "process.pid": process.pid,
    }).merge(detectResources({ detectors: [envDetector] })),
    sampler: sampling.parentBased ? new sdk.ParentBasedSampler({ root }) : root,
    // Attribute values are cut at 1 KiB by default: the drain's write statement alone is 4 KB of SQL text,
    // sent with every batch.
    spanLimits: { attributeValueLengthLimit: attributeValueLengthLimit() },
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchProcessorSettings() })],
  });
  // The trace SDK 3.x registers nothing itself: the context manager, W3C propagation and the provider.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  propagation.setGlobalPropagator(new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);

  const makers: Record<Exclude<InstrumentationName, "bullmq">, () => Promise<Instrumentation>> = {
    http: async () => {
      const http = await import("@opentelemetry/instrumentation-http");
      return new http.HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? "").split("?")[0]!),
        // A webhook attempt is already a client span (`webhook.deliver`) whose traceparent the request
        // carries: a second span for the same request would add nothing but cost.
        ignoreOutgoingRequestHook: (req) => req.headers !== undefined && !Array.isArray(req.headers) && "traceparent" in req.headers,
      });
    },
    // Express names the HTTP server span by its route (`POST /webhooks/flovi`); it makes no spans of its own:
    // a span per middleware, router or handler layer repeated the server span and the hub's own span under
    // it, and cost a sixth of the tracing's CPU in the api.
    express: async () => {
      const express = await import("@opentelemetry/instrumentation-express");
      return new express.ExpressInstrumentation({
        ignoreLayersType: [express.ExpressLayerType.MIDDLEWARE, express.ExpressLayerType.ROUTER, express.ExpressLayerType.REQUEST_HANDLER],
      });
    },
    pg: async () => new (await import("@opentelemetry/instrumentation-pg")).PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
    ioredis: async () =>
      new (await import("@opentelemetry/instrumentation-ioredis")).IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: redisStatement }),
    undici: async () => new (await import("@opentelemetry/instrumentation-undici")).UndiciInstrumentation(),
  };
  const chosen = [...enabled].filter((name): name is keyof typeof makers => name !== "bullmq");
  registerInstrumentations({ tracerProvider: provider, instrumentations: await Promise.all(chosen.map((name) => makers[name]())) });
  if (!enabled.has("bullmq")) leftOut("bullmq");
  await waitForAllMessagesAcknowledged();
  // Without the HTTP instrumentation the hub starts each request's server span itself.
  markTracingOn({ hubServerSpans: !enabled.has("http") });
  return { shutdown: () => provider.shutdown() };
}
