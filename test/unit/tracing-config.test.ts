// What the tracing setup decides without starting the SDK: when it is on, how long an attribute may be,
// and what a Redis span says (never a job's data or a lock token).
import { describe, expect, it } from "vitest";
import { attributeValueLengthLimit, redisStatement, tracingConfigured } from "../../src/observability/tracing-config.js";

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
