// What the tracing setup decides without starting the SDK: when it is on, how long an attribute may be,
// what a Redis span says (never a job's data or a lock token), and which instrumentations, sampler and
// batch settings apply (the environment the OpenTelemetry Node distribution reads; the trace SDK 3.x reads none).
import { describe, expect, it } from "vitest";
import {
  attributeValueLengthLimit,
  batchProcessorSettings,
  enabledInstrumentations,
  redisStatement,
  samplerChoice,
  tracingConfigured,
} from "../../src/observability/otel-settings.js";

describe("tracing configuration", () => {
  it("is on with an OTLP endpoint, off without one or when the SDK is disabled", () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })).toBe(false);
  });

  it("cuts attribute values at 1 KiB unless the standard variables say otherwise", () => {
    expect(attributeValueLengthLimit({})).toBe(1024);
    expect(attributeValueLengthLimit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "4096" })).toBe(4096);
    expect(attributeValueLengthLimit({ OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "200", OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "4096" })).toBe(200);
    expect(attributeValueLengthLimit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "lots" })).toBe(1024);
  });

  it("names a script by its SHA only, and any other command by its key", () => {
    const jobData = '{"payload":{"driver":{"name":"Ada Lovelace"}}}';
    const statement = redisStatement("evalsha", ["69666e69dd56", "14", "{hub}:q:wait", "token-123", jobData]);
    expect(statement).toBe("evalsha 69666e69dd56");
    expect(redisStatement("set", ["hub:key", "secret-value"])).toBe("set hub:key [1 other arguments]");
    expect(redisStatement("ping", [])).toBe("ping");
  });
});

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
