// The OpenAPI 3.1 description of every endpoint, served at /openapi.json. test/integration/openapi.test.ts
// compares it with the routes the app really registers, so the two cannot drift.
import { z } from "zod";
import { subscriptionChange, subscriptionInput } from "../delivery/subscriptions.js";

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({ description, content: json(ref("Error")) });
const ok = (description: string, schema: unknown = { type: "object" }) => ({ description, content: json(schema) });
const pathParam = (name: string, description = name) => ({ name, in: "path", required: true, schema: { type: "string" }, description });
const queryParam = (name: string, schema: unknown, description: string) => ({ name, in: "query", required: false, schema, description });
const secured = { security: [{ bearer: [] }] };
const authErrors = { "401": error("missing or wrong bearer token"), "503": error("ADMIN_TOKEN is not configured") };
const body = (schema: unknown) => ({ required: true, content: json(schema) });
const toSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });

export function openApiDocument() {
  return {
    openapi: "3.1.0",
    info: {
      title: "Logistics event hub",
      version: "1.0.0",
      description:
        "Flovi webhooks in; MyFlyingBox and GreenFlow polled; normalized CloudEvents out over Standard Webhooks. Every endpoint but the ingress, health, metrics and this document needs `Authorization: Bearer <ADMIN_TOKEN>`.",
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
            url: { type: "string" },
            eventTypes: { type: "array", items: { type: "string" } },
            description: { type: ["string", "null"] },
            status: { enum: ["active", "disabled", "deleted"] },
            disabledReason: { type: ["string", "null"] },
            ordering: { enum: ["none", "subject"], description: "subject: one event of a subject at a time, in event-log order" },
            maxInFlight: { type: "integer", minimum: 1, maximum: 1000, description: "requests in flight to the endpoint at most, across every worker" },
            rateLimitPerSecond: { type: ["number", "null"], description: "requests per second at most; null for no limit" },
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
    paths: {
      "/webhooks/flovi": {
        post: {
          summary: "Flovi reservation_status_change webhook",
          security: [{ hubSignature: [] }],
          requestBody: { required: true, content: { "*/*": { schema: { type: "string", format: "binary" } } } },
          responses: {
            "202": ok("stored durably (or a duplicate of a stored body, or stored and ignored)", {
              type: "object",
              properties: { id: { type: "string" }, duplicate: { type: "boolean" }, ignored: { type: "boolean" }, reason: { type: "string" } },
            }),
            "400": error("signed, but not JSON (stored as rejected)"),
            "401": error("missing or invalid x-hub-signature (nothing stored)"),
            "413": error("body over WEBHOOK_BODY_LIMIT_BYTES"),
            "422": error("signed JSON that is not a usable status change (stored as rejected)"),
            "503": error("cannot store durably, or no webhook secret configured; retry"),
          },
        },
      },
      "/healthz": { get: { summary: "process alive", responses: { "200": ok("alive") } } },
      "/readyz": {
        get: {
          summary: "Postgres and Redis reachable",
          responses: {
            "200": ok("ready"),
            "503": ok('a dependency is down (`failing` names it), or the process is still warming up (`failing: ["warming_up"]`)'),
          },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "text exposition format", content: { "text/plain": { schema: { type: "string" } } } } },
        },
      },
      "/openapi.json": { get: { summary: "this document", responses: { "200": ok("OpenAPI 3.1") } } },
      "/schemas/event.json": {
        get: { summary: "JSON Schema of the event envelope subscribers receive (docs/events.md)", responses: { "200": ok("JSON Schema 2020-12") } },
      },
      "/schemas/events.json": {
        get: {
          summary: "The event catalog: every event type with its JSON Schema (envelope, data, data.details), a description and an example (docs/events.md)",
          responses: { "200": ok("the catalog") },
        },
      },
      "/reservations/{reservationId}": {
        get: {
          ...secured,
          summary: "a Flovi reservation: state, transitions, events",
          parameters: [pathParam("reservationId")],
          responses: { "200": ok("the reservation"), "404": error("unknown"), ...authErrors },
        },
      },
      "/tracking/mfb-orders": {
        post: {
          ...secured,
          summary: "start polling an MFB order (idempotent; resumes a stopped one)",
          requestBody: body({
            type: "object",
            required: ["orderId"],
            properties: { orderId: { type: "string", format: "uuid" }, reference: { type: "string" } },
          }),
          responses: { "201": ok("now tracked"), "200": ok("already tracked"), "400": error("invalid input"), ...authErrors },
        },
      },
      "/tracking/mfb-orders/{orderId}": {
        get: {
          ...secured,
          summary: "normalized state, parcels with events, history, polling metadata",
          parameters: [pathParam("orderId")],
          responses: { "200": ok("the order"), "404": error("not tracked"), ...authErrors },
        },
        delete: {
          ...secured,
          summary: "stop polling (operator)",
          parameters: [pathParam("orderId")],
          responses: { "200": ok("stopped"), "404": error("not tracked"), ...authErrors },
        },
      },
      "/tracking/greenflow-bookings": {
        post: {
          ...secured,
          summary: "start polling a GreenFlow booking (booking_code or local_number)",
          requestBody: body({
            type: "object",
            required: ["bookingCode", "lastname"],
            properties: {
              bookingCode: { type: "string" },
              lastname: { type: "string" },
              timeZone: { type: "string", description: "IANA zone of the booking's local times (default GREENFLOW_TIME_ZONE)" },
            },
          }),
          responses: { "201": ok("now tracked"), "200": ok("already tracked"), "400": error("invalid input"), ...authErrors },
        },
      },
      "/tracking/greenflow-bookings/{bookingCode}": {
        get: {
          ...secured,
          summary: "status, GDS status, history, polling metadata",
          parameters: [pathParam("bookingCode")],
          responses: { "200": ok("the booking"), "404": error("not tracked"), ...authErrors },
        },
        delete: {
          ...secured,
          summary: "stop polling (operator)",
          parameters: [pathParam("bookingCode")],
          responses: { "200": ok("stopped"), "404": error("not tracked"), ...authErrors },
        },
      },
      "/": {
        get: {
          summary: "a browser is sent to the operator console; other clients get JSON links",
          responses: { "200": ok("links"), "302": { description: "to /admin/console" } },
        },
      },
      "/subscriptions/{id}/test": {
        post: {
          ...secured,
          summary: "send a signed hub.test event to this endpoint alone; answers the attempt's outcome (delivered, statusCode, durationMs, excerpt, error)",
          parameters: [pathParam("id")],
          responses: { "200": ok("the attempt's outcome"), "404": error("no such subscription"), ...authErrors },
        },
      },
      "/subscriptions": {
        get: { ...secured, summary: "list subscriptions", responses: { "200": ok("subscriptions"), ...authErrors } },
        post: {
          ...secured,
          summary: "subscribe a URL to event types (exact, entity.* or *)",
          requestBody: body(toSchema(subscriptionInput)),
          responses: {
            "201": ok("created; the only time the secret is shown", ref("Subscription")),
            "400": error("invalid input or target not allowed"),
            ...authErrors,
          },
        },
      },
      "/subscriptions/{id}": {
        get: {
          ...secured,
          summary: "a subscription with delivery counts and its backlog",
          parameters: [pathParam("id")],
          responses: { "200": ok("subscription", ref("Subscription")), "404": error("unknown"), ...authErrors },
        },
        patch: {
          ...secured,
          summary: "change description, event types, ordering or limits (only the fields named)",
          parameters: [pathParam("id")],
          requestBody: body(toSchema(subscriptionChange)),
          responses: { "200": ok("changed", ref("Subscription")), "400": error("invalid input or an unknown field"), "404": error("unknown"), ...authErrors },
        },
        delete: {
          ...secured,
          summary: "delete (no further deliveries)",
          parameters: [pathParam("id")],
          responses: { "204": { description: "deleted" }, "404": error("unknown"), ...authErrors },
        },
      },
      "/subscriptions/{id}/rotate-secret": {
        post: {
          ...secured,
          summary: "new secret; the old one also signs for SECRET_ROTATION_GRACE_MS",
          parameters: [pathParam("id")],
          responses: { "200": ok("rotated; shows the new secret"), "404": error("unknown"), ...authErrors },
        },
      },
      "/subscriptions/{id}/enable": {
        post: {
          ...secured,
          summary: "re-enable (resets the failure run)",
          parameters: [pathParam("id")],
          responses: { "200": ok("enabled"), "404": error("unknown"), ...authErrors },
        },
      },
      "/subscriptions/{id}/disable": {
        post: { ...secured, summary: "disable", parameters: [pathParam("id")], responses: { "200": ok("disabled"), "404": error("unknown"), ...authErrors } },
      },
      "/subscriptions/{id}/deliveries": {
        get: {
          ...secured,
          summary: "recent deliveries with every attempt",
          parameters: [
            pathParam("id"),
            queryParam("status", { enum: ["pending", "held", "succeeded", "failed", "cancelled"] }, "filter"),
            queryParam("limit", { type: "integer" }, "page size"),
          ],
          responses: { "200": ok("deliveries"), "404": error("unknown"), ...authErrors },
        },
      },
      "/events": {
        get: {
          ...secured,
          summary: "the normalized event log, oldest first, cursor-paginated",
          parameters: [
            queryParam("type", { type: "string" }, "exact type or entity.*"),
            queryParam("subject", { type: "string" }, "e.g. reservation/123"),
            queryParam("after", { type: "string" }, "the cursor of the previous page"),
            queryParam("limit", { type: "integer", maximum: 1000 }, "page size (default 100)"),
          ],
          responses: {
            "200": ok("a page", {
              type: "object",
              properties: { data: { type: "array", items: ref("CloudEvent") }, cursor: { type: ["string", "null"] }, hasMore: { type: "boolean" } },
            }),
            "400": error("invalid query"),
            ...authErrors,
          },
        },
      },
      "/admin/queues": { get: { ...secured, summary: "every queue with its counts", responses: { "200": ok("queues"), ...authErrors } } },
      "/admin/queues/{queue}/failed": {
        get: {
          ...secured,
          summary: "failed jobs: id, name, data, failedReason, stack trace head, attempts, timestamps",
          parameters: [pathParam("queue"), queryParam("start", { type: "integer" }, "offset"), queryParam("limit", { type: "integer" }, "page size")],
          responses: { "200": ok("failed jobs"), "404": error("unknown queue"), ...authErrors },
        },
      },
      "/admin/queues/{queue}/jobs/{jobId}/retry": {
        post: {
          ...secured,
          summary: "retry one failed job",
          parameters: [pathParam("queue"), pathParam("jobId")],
          responses: { "200": ok("retried"), "404": error("unknown queue or job"), "409": error("job not failed"), ...authErrors },
        },
      },
      "/admin/queues/{queue}/jobs/{jobId}": {
        delete: {
          ...secured,
          summary: "remove one failed job",
          parameters: [pathParam("queue"), pathParam("jobId")],
          responses: { "200": ok("removed"), "404": error("unknown queue or job"), "409": error("job not failed"), ...authErrors },
        },
      },
      "/admin/queues/{queue}/retry-failed": {
        post: {
          ...secured,
          summary: "retry every failed job, or those matching the filter",
          parameters: [pathParam("queue")],
          requestBody: {
            required: false,
            content: json({
              type: "object",
              properties: { name: { type: "string" }, failedReasonContains: { type: "string" }, since: { type: "string", format: "date-time" } },
            }),
          },
          responses: { "200": ok("how many were retried"), "404": error("unknown queue"), ...authErrors },
        },
      },
      "/admin/webhooks": {
        get: {
          ...secured,
          summary: "stored inbound deliveries",
          parameters: [
            queryParam("status", { enum: ["received", "processed", "ignored", "rejected", "failed"] }, "filter"),
            queryParam("limit", { type: "integer" }, "page size"),
            queryParam("before", { type: "string", format: "date-time" }, "older than"),
          ],
          responses: { "200": ok("deliveries"), ...authErrors },
        },
      },
      "/admin/webhooks/{id}/replay": {
        post: {
          ...secured,
          summary: "process a stored inbound delivery again (idempotent)",
          parameters: [pathParam("id")],
          responses: { "200": ok("what the replay did"), "404": error("unknown"), ...authErrors },
        },
      },
      "/admin/deliveries/{id}/retry": {
        post: {
          ...secured,
          summary: "send an event to its subscriber again (same webhook-id)",
          parameters: [pathParam("id")],
          responses: { "202": ok("queued"), "404": error("unknown"), "409": error("still pending, or subscription inactive"), ...authErrors },
        },
      },
      "/admin/subscriptions/{id}/recover": {
        post: {
          ...secured,
          summary: "re-send every failed delivery of a subscription since a time",
          parameters: [pathParam("id")],
          requestBody: body({ type: "object", required: ["since"], properties: { since: { type: "string", format: "date-time" } } }),
          responses: { "202": ok("how many were queued"), "404": error("unknown"), "409": error("subscription inactive"), ...authErrors },
        },
      },
      "/admin/retention": {
        get: {
          ...secured,
          summary: "retention per kind of data, the oldest row each table keeps, table sizes",
          responses: { "200": ok("retention"), ...authErrors },
        },
      },
      "/admin/providers": {
        get: {
          ...secured,
          summary: "polling state per provider: enabled (and why not), paused after a 401 and until when",
          responses: { "200": ok("providers"), ...authErrors },
        },
      },
      "/admin/providers/{provider}/resume": {
        post: {
          ...secured,
          summary: "end a provider-wide pause once its credentials are fixed; parked items are due at once",
          parameters: [pathParam("provider", "mfb or greenflow")],
          responses: { "200": ok("resumed"), "404": error("unknown provider"), ...authErrors },
        },
      },
      "/admin/audit": {
        get: {
          ...secured,
          summary: "the audit log, newest first",
          parameters: [queryParam("start", { type: "integer" }, "offset"), queryParam("limit", { type: "integer" }, "page size")],
          responses: { "200": ok("audit rows"), ...authErrors },
        },
      },
    },
  };
}
