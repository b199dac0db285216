import { describe, expect, it } from "vitest";
import { destinationKey, destinationKind, natsSubjectProblem, parseBrokerUrl, renderTemplate, templateProblem } from "../../src/domain/destinations.js";
import { natsMessageId } from "../../src/delivery/brokers/nats.js";
import { maskUrl } from "../../src/lib/text.js";
import { checkBrokerTarget } from "../../src/delivery/target-policy.js";

const event = { type: "shipment.exception", subject: "shipment/1Z.999 *x>", source: "/providers/mfb" };

describe("routing key and subject templates", () => {
  it("fill in type, subject and source", () => {
    expect(renderTemplate("{type}", event, "rabbitmq")).toBe("shipment.exception");
    expect(renderTemplate("hub.{source}.{subject}", event, "rabbitmq")).toBe("hub./providers/mfb.shipment/1Z.999 *x>");
  });
  it("keep a NATS subject's tokens: a value's dots, wildcards and spaces become _, the type's dots stay", () => {
    expect(renderTemplate("hub.{type}.{subject}", event, "nats")).toBe("hub.shipment.exception.shipment/1Z_999__x_");
  });
  it("refuse unknown placeholders and lone braces, naming them", () => {
    expect(templateProblem("{type}.{subject}")).toBeNull();
    expect(templateProblem("{tpye}")).toContain("unknown placeholder {tpye}");
    expect(templateProblem("a}b")).toContain("brace");
    expect(templateProblem("{type")).toContain("brace");
  });
  it("refuse NATS subjects no publish can go to", () => {
    expect(natsSubjectProblem("hub.{type}")).toBeNull();
    expect(natsSubjectProblem("hub.*")).toContain("wildcards");
    expect(natsSubjectProblem("hub..{type}")).toContain("empty tokens");
    expect(natsSubjectProblem(".{type}")).toContain("empty tokens");
  });
});

describe("broker URLs", () => {
  it("fit their kind", () => {
    expect(parseBrokerUrl("rabbitmq", "amqp://u:p@mq:5672/billing")).toHaveProperty("url");
    expect(parseBrokerUrl("rabbitmq", "nats://mq")).toEqual({ problem: "a rabbitmq url starts with amqp:// or amqps://" });
    expect(parseBrokerUrl("nats", "nats://n:4222/x")).toEqual({ problem: "a nats url has no path" });
    expect(parseBrokerUrl("rabbitmq", "amqp://mq/a/b")).toHaveProperty("problem");
    expect(parseBrokerUrl("rabbitmq", "amqp://mq/?heartbeat=5")).toEqual({ problem: "url takes no query or fragment" });
  });
  it("are one destination per host, port and virtual host, whatever the credentials", () => {
    expect(destinationKey("amqp://a:b@mq.internal/billing")).toBe("amqp://mq.internal:5672/billing");
    expect(destinationKey("amqp://c:d@mq.internal:5672/billing")).toBe("amqp://mq.internal:5672/billing");
    expect(destinationKey("amqp://mq.internal")).toBe("amqp://mq.internal:5672/%2F");
    expect(destinationKey("amqp://mq.internal/%2F")).toBe("amqp://mq.internal:5672/%2F");
    expect(destinationKey("nats://t@n.internal")).toBe("nats://n.internal:4222");
    expect(destinationKey("https://hooks.example.com/a")).toBe("https://hooks.example.com");
  });
  it("are shown with their credentials masked", () => {
    expect(maskUrl("amqp://hub:s3cret@mq.internal:5672/billing")).toBe("amqp://***@mq.internal:5672/billing");
    expect(maskUrl("nats://token@n.internal:4222")).toBe("nats://***@n.internal:4222");
    expect(maskUrl("nats://n.internal:4222")).toBe("nats://n.internal:4222");
  });
});

describe("NATS message ids", () => {
  it("are the event's, and a replay's own (the de-duplication window must not drop it)", () => {
    expect(natsMessageId("e1", null)).toBe("e1");
    expect(natsMessageId("e1", "r1")).toBe("e1:r1");
  });
});

describe("a broker's host under the production target policy", () => {
  const production = { enforcePublic: true, allowedHosts: ["10.0.0.0/8"] };
  it("is refused at a private or loopback address unless SUBSCRIPTION_ALLOWED_HOSTS lists it", async () => {
    expect(await checkBrokerTarget(production, new URL("amqp://u:p@127.0.0.1:5672/"))).toEqual({
      ok: false,
      reason: "127.0.0.1 resolves to a loopback address; allow it with SUBSCRIPTION_ALLOWED_HOSTS",
    });
    expect(await checkBrokerTarget(production, new URL("nats://10.1.2.3:4222"))).toEqual({ ok: true });
    expect(await checkBrokerTarget({ enforcePublic: false, allowedHosts: [] }, new URL("nats://127.0.0.1:4222"))).toEqual({ ok: true });
  });
});

describe("destinationKind", () => {
  it("reads the kind off the URL's scheme", () => {
    expect(destinationKind("amqps://mq/x")).toBe("rabbitmq");
    expect(destinationKind("nats://n:4222")).toBe("nats");
    expect(destinationKind("tls://n:4222")).toBe("nats");
    expect(destinationKind("https://hooks.example.com")).toBe("http");
  });
});
