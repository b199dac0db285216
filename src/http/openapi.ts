// The OpenAPI 3.1 description of every endpoint, served at /openapi.json. test/integration/openapi.test.ts
// compares it with the routes the app really registers, so the two cannot drift.
import { accessPaths } from "./openapi-access-paths.js";
import { consumerPaths } from "./openapi-consumer-paths.js";
import { adminPaths } from "./openapi-admin-paths.js";
import { publicPaths } from "./openapi-paths.js";
import { MAX_IN_FLIGHT, RATE_LIMIT } from "../domain/subscription-limits.js";

export function openApiDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "Logistics event hub",
      version: "1.0.0",
      description:
        "Flovi webhooks in; MyFlyingBox and GreenFlow polled; normalized CloudEvents out over Standard Webhooks. Every endpoint but the ingress, " +
        "health, metrics and this document needs `Authorization: Bearer <ADMIN_TOKEN>`.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" }, hubSignature: { type: "apiKey", in: "header", name: "x-hub-signature" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error", "message"],
          properties: { error: { type: "string" }, message: { type: "string" }, issues: { type: "array" } },
        },
        CloudEvent: {
          type: "object",
          required: ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"],
          properties: {
            specversion: { const: "1.0" },
            id: { type: "string", format: "uuid" },
            source: { enum: ["flovi", "myflyingbox", "greenflow", "logistics-event-hub"] },
            type: { type: "string", examples: ["reservation.sealed", "shipment.tracking_event", "rental.cancelled"] },
            subject: { type: "string", examples: ["reservation/123456"] },
            time: { type: "string", format: "date-time" },
            datacontenttype: { const: "application/json" },
            data: {
              type: "object",
              properties: {
                entity: { enum: ["reservation", "shipment", "rental", "subscription"] },
                entityId: { type: "string" },
                externalId: { type: ["string", "null"] },
                status: { type: "string" },
                previousStatus: { type: ["string", "null"] },
                phase: { enum: ["booked", "assigned", "in_transit", "completed", "exception", "cancelled"] },
                providerStatus: { type: "string" },
                sequence: { type: "integer", minimum: 1 },
                details: { type: "object" },
              },
            },
          },
        },
        Subscription: {
          type: "object",
          properties: {
            id: { type: "string", format: "uuid" },
            url: { type: "string", description: "the endpoint, or the broker's URL; query values and credentials masked" },
            destination: {
              type: ["object", "null"],
              description: "a broker destination (null for an HTTP endpoint): type rabbitmq (exchange, routingKey) or nats (subject), url masked",
              properties: {
                type: { enum: ["rabbitmq", "nats"] },
                url: { type: "string" },
                exchange: { type: "string" },
                routingKey: { type: "string" },
                subject: { type: "string" },
              },
            },
            eventTypes: { type: "array", items: { type: "string" } },
            description: { type: ["string", "null"] },
            status: { enum: ["active", "disabled", "deleted"] },
            disabledReason: { type: ["string", "null"] },
            ordering: { enum: ["none", "subject"], description: "subject: one event of a subject at a time, in event-log order" },
            maxInFlight: {
              type: "integer",
              minimum: MAX_IN_FLIGHT.min,
              maximum: MAX_IN_FLIGHT.max,
              description: "requests in flight to the endpoint at most, across every worker",
            },
            rateLimitPerSecond: {
              type: ["number", "null"],
              minimum: RATE_LIMIT.min,
              maximum: RATE_LIMIT.max,
              description: `requests per second at most (${RATE_LIMIT.min} to ${RATE_LIMIT.max}); null for no limit`,
            },
            secret: { type: "string", description: "whsec_…; only in the creation and rotation responses" },
            deliveries: { type: "object", description: "GET /subscriptions/{id} only: deliveries by status" },
            lane: {
              type: "object",
              description: "GET /subscriptions/{id} only: the backlog now",
              properties: {
                inFlight: { type: "integer" },
                waiting: { type: "integer", description: "due, waiting for a slot or the rate limit" },
                retrying: { type: "integer", description: "waiting for a later retry" },
                held: { type: "integer", description: "ordered mode: held behind an earlier event of their subject" },
                heldSubjects: { type: "integer", description: "ordered mode: subjects held back" },
                heldSince: { type: ["string", "null"], format: "date-time", description: "ordered mode: the oldest held delivery's creation" },
                pausedUntil: { type: ["string", "null"], format: "date-time", description: "the subscriber answered 429: nothing is sent before" },
                pauseReason: { type: ["string", "null"] },
              },
            },
          },
        },
      },
    },
    paths: { ...publicPaths(), ...adminPaths(), ...accessPaths(), ...consumerPaths() },
  };
}
