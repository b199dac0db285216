// Which instrumentations load, which sampler and batch settings apply: the environment the OpenTelemetry
// Node distribution reads, applied by the hub itself (the trace SDK 3.x reads no environment).
import { describe, expect, it } from "vitest";
import { batchProcessorSettings, enabledInstrumentations, samplerChoice } from "../../src/observability/tracing-config.js";

describe("the tracing profile", () => {
  it("leaves the HTTP and Express instrumentations out by default", () => {
    expect([...enabledInstrumentations({})].sort()).toEqual(["bullmq", "ioredis", "pg", "undici"]);
  });

  it("takes an enabled list, minus a disabled one, and refuses names it does not know", () => {
    expect([...enabledInstrumentations({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: "http, express,pg" })].sort()).toEqual(["express", "http", "pg"]);
    expect([...enabledInstrumentations({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: "bullmq,undici" })].sort()).toEqual(["ioredis", "pg"]);
    expect(() => enabledInstrumentations({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: "grpc" })).toThrow(/unknown instrumentation "grpc".*known: http, express/);
  });

  it("reads the sampler as the specification names it", () => {
    expect(samplerChoice({})).toEqual({ kind: "always_on", ratio: 1, parentBased: true });
    expect(samplerChoice({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" })).toEqual({
      kind: "traceidratio",
      ratio: 0.1,
      parentBased: true,
    });
    expect(samplerChoice({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "7" })).toEqual({
      kind: "traceidratio",
      ratio: 1,
      parentBased: false,
    });
    expect(samplerChoice({ OTEL_TRACES_SAMPLER: "always_off" })).toMatchObject({ kind: "always_off", parentBased: false });
    expect(() => samplerChoice({ OTEL_TRACES_SAMPLER: "jaeger_remote" })).toThrow(/unknown OTEL_TRACES_SAMPLER "jaeger_remote"/);
  });

  it("passes the batch processor's settings that are set and valid", () => {
    expect(batchProcessorSettings({})).toEqual({});
    expect(batchProcessorSettings({ OTEL_BSP_SCHEDULE_DELAY: "200", OTEL_BSP_MAX_QUEUE_SIZE: "x", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "0" })).toEqual({
      scheduledDelayMillis: 200,
    });
  });
});
