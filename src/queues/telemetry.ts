// BullMQ's OpenTelemetry spans (bullmq-otel), only with tracing on: a job added inside a traced request or
// job carries its context in Redis, and its processing continues that trace in whichever worker runs it.
import { type Context, context, SpanKind, trace } from "@opentelemetry/api";
import { suppressTracing, unsuppressTracing } from "@opentelemetry/core";
import type { Telemetry } from "bullmq";
import { BullMQOtel } from "bullmq-otel";
import { tracingOn } from "../observability/spans.js";
import type { QueueName } from "./catalog.js";

let telemetry: Telemetry | undefined;
let off = false;

/** OTEL_NODE_DISABLED_INSTRUMENTATIONS names bullmq: no BullMQ spans (the hub's own spans stay). */
export function disableQueueTelemetry(): void {
  off = true;
}

/**
 * Queues whose jobs carry no trace. A `flovi-events` job only rings the inbox: the trace travels with the
 * stored delivery (its drain continues it, replays and sweeps included), and one job add is batched for many
 * requests, so its span would file every job of the batch under one request's trace.
 */
const UNTRACED: ReadonlySet<QueueName> = new Set(["flovi-events"]);

/** The `telemetry` option for a Queue or a Worker: set when tracing is on, absent (no cost) otherwise. */
export function queueTelemetry(queue: QueueName): { telemetry?: Telemetry } {
  if (!tracingOn() || off || UNTRACED.has(queue)) return {};
  telemetry ??= quietInside(new BullMQOtel({ tracerName: "logistics-event-hub" }));
  return { telemetry };
}

/** Runs a job add as its queue is traced: for one whose jobs carry no trace, suppressed (no span per Redis command). */
export function addWithQueueTracing<T>(queue: QueueName, add: () => Promise<T>): Promise<T> {
  if (!tracingOn() || !UNTRACED.has(queue)) return add();
  return context.with(suppressTracing(context.active()), add);
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
