// BullMQ's OpenTelemetry spans (bullmq-otel), only with tracing on: a job added inside a traced request or
// job carries its context in Redis, and its processing continues that trace in whichever worker runs it.
import { BullMQOtel } from "bullmq-otel";
import { tracingOn } from "../observability/trace.js";

let telemetry: BullMQOtel | undefined;
let off = false;

/** OTEL_NODE_DISABLED_INSTRUMENTATIONS names bullmq: no BullMQ spans (the hub's own spans stay). */
export function disableQueueTelemetry(): void {
  off = true;
}

/** The `telemetry` option for a Queue or a Worker: set when tracing is on, absent (no cost) otherwise. */
export function queueTelemetry(): { telemetry?: BullMQOtel } {
  if (!tracingOn() || off) return {};
  telemetry ??= new BullMQOtel({ tracerName: "logistics-event-hub" });
  return { telemetry };
}
