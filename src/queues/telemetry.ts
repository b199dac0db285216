// BullMQ's OpenTelemetry spans (bullmq-otel), only with tracing on: a job added inside a traced request or
// job carries its context in Redis, and its processing continues that trace in whichever worker runs it.
import { type Context, SpanKind, trace } from "@opentelemetry/api";
import { suppressTracing, unsuppressTracing } from "@opentelemetry/core";
import type { Telemetry } from "bullmq";
import { BullMQOtel } from "bullmq-otel";
import { tracingOn } from "../observability/trace.js";

let telemetry: Telemetry | undefined;
let off = false;

/** OTEL_NODE_DISABLED_INSTRUMENTATIONS names bullmq: no BullMQ spans (the hub's own spans stay). */
export function disableQueueTelemetry(): void {
  off = true;
}

/** The `telemetry` option for a Queue or a Worker: set when tracing is on, absent (no cost) otherwise. */
export function queueTelemetry(): { telemetry?: Telemetry } {
  if (!tracingOn() || off) return {};
  telemetry ??= quietInside(new BullMQOtel({ tracerName: "logistics-event-hub" }));
  return { telemetry };
}

const isProcessSpan = (ctx: Context) => (trace.getSpan(ctx) as { kind?: SpanKind } | undefined)?.kind === SpanKind.CONSUMER;

/**
 * Every BullMQ span but `process` wraps BullMQ's own Redis commands (add, complete, lock extension, stalled
 * checks), where the ioredis instrumentation would add a span per command (an `evalsha` per job added and
 * per job completed) repeating what BullMQ's span says, at a cost per event. Those run with tracing
 * suppressed; `process`, which runs the hub's work, never is: its context is taken free of suppression.
 */
function quietInside(otel: BullMQOtel): Telemetry {
  const manager = otel.contextManager;
  return {
    tracer: otel.tracer,
    contextManager: {
      active: () => manager.active(),
      with: (ctx, fn) => manager.with(isProcessSpan(ctx) ? unsuppressTracing(ctx) : suppressTracing(ctx), fn),
      getMetadata: (ctx) => manager.getMetadata(ctx),
      fromMetadata: (ctx, metadata) => manager.fromMetadata(unsuppressTracing(ctx), metadata),
    },
  };
}
