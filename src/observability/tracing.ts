// OpenTelemetry tracing, configured only by the standard OTEL_* variables: on when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not
// "true"), exporting OTLP over HTTP; off otherwise, when nothing here is even loaded (main.ts imports this
// module only then). It must start before the modules it instruments load: main.ts imports the runtime after.
//
// Instrumented: incoming and outgoing HTTP (node:http, so the ingress and the webhook client; undici, so the
// provider clients' fetch), Express, pg and ioredis (only inside a traced operation: a worker's idle Redis
// polling makes no spans), and BullMQ through bullmq-otel (src/queues/telemetry.ts). The hub's own spans are
// in src/observability/trace.ts.
import { register } from "node:module";
import { createAddHookMessageChannel } from "import-in-the-middle";
import type { Role } from "../runtime.js";
import { markTracingOn } from "./trace.js";
import { disableQueueTelemetry } from "../queues/telemetry.js";
import { attributeValueLengthLimit, redisStatement } from "./tracing-config.js";

const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

const jsonProtocol = () => (process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL) === "http/json";

/** Starts the SDK; resolves with its shutdown (flushes what is buffered). */
export async function startTracing(role: Role): Promise<{ shutdown(): Promise<void> }> {
  // ESM: the packages this service imports are hooked as they load (import-in-the-middle), CommonJS ones too.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);

  const [
    { NodeTracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
    { registerInstrumentations },
    http,
    express,
    pg,
    ioredis,
    undici,
  ] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    // OTLP/HTTP with protobuf bodies (the protocol's default), or JSON when OTEL_EXPORTER_OTLP_PROTOCOL says http/json.
    jsonProtocol() ? import("@opentelemetry/exporter-trace-otlp-http") : import("@opentelemetry/exporter-trace-otlp-proto"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/instrumentation"),
    import("@opentelemetry/instrumentation-http"),
    import("@opentelemetry/instrumentation-express"),
    import("@opentelemetry/instrumentation-pg"),
    import("@opentelemetry/instrumentation-ioredis"),
    import("@opentelemetry/instrumentation-undici"),
  ]);
  const provider = new NodeTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still apply on top (the SDK reads them).
    resource: resourceFromAttributes({
      "service.name": process.env.OTEL_SERVICE_NAME ?? "logistics-event-hub",
      "service.instance.role": role,
      "process.pid": process.pid,
    }),
    // Attribute values are cut at 1 KiB by default: the drain's write statement alone is 4 KB of SQL text,
    // sent with every batch.
    spanLimits: { attributeValueLengthLimit: attributeValueLengthLimit() },
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  // OTEL_NODE_DISABLED_INSTRUMENTATIONS (comma-separated: http, express, pg, ioredis, undici, bullmq) leaves
  // some out, as the OpenTelemetry Node distribution's variable of that name does.
  const disabled = new Set(
    (process.env.OTEL_NODE_DISABLED_INSTRUMENTATIONS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const instrumentations = [
    [
      "http",
      () =>
        new http.HttpInstrumentation({
          ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? "").split("?")[0]!),
          // A webhook attempt is already a client span (`webhook.deliver`) whose traceparent the request
          // carries: a second span for the same request would add nothing but cost.
          ignoreOutgoingRequestHook: (req) => req.headers !== undefined && !Array.isArray(req.headers) && "traceparent" in req.headers,
        }),
    ],
    // Express names the HTTP server span by its route (`POST /webhooks/flovi`); it makes no spans of its own:
    // a span per middleware, router or handler layer repeated the server span and the hub's own span under
    // it, and cost a sixth of the tracing's CPU in the api.
    [
      "express",
      () =>
        new express.ExpressInstrumentation({
          ignoreLayersType: [express.ExpressLayerType.MIDDLEWARE, express.ExpressLayerType.ROUTER, express.ExpressLayerType.REQUEST_HANDLER],
        }),
    ],
    ["pg", () => new pg.PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true })],
    ["ioredis", () => new ioredis.IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: redisStatement })],
    ["undici", () => new undici.UndiciInstrumentation()],
  ] as const;
  registerInstrumentations({ tracerProvider: provider, instrumentations: instrumentations.filter(([name]) => !disabled.has(name)).map(([, make]) => make()) });
  if (disabled.has("bullmq")) disableQueueTelemetry();
  await waitForAllMessagesAcknowledged();
  markTracingOn();
  return { shutdown: () => provider.shutdown() };
}
