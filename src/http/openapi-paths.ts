// The OpenAPI paths of the ingress, health, schemas, tracking, subscriptions and the event log.
import { subscriptionChange, subscriptionInput } from "../services/subscriptions.js";
import { authErrors, body, error, ok, pathParam, queryParam, ref, secured, toSchema } from "./openapi-parts.js";

export function publicPaths() {
  return {
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
        summary: "search deliveries, newest first, with every attempt; `nextCursor` continues the same search",
        parameters: [
          pathParam("id"),
          queryParam("status", { enum: ["pending", "held", "succeeded", "failed", "cancelled"] }, "filter"),
          queryParam("since", { type: "string", format: "date-time" }, "made at or after"),
          queryParam("until", { type: "string", format: "date-time" }, "made before"),
          queryParam("responseStatus", { type: "integer", minimum: 100, maximum: 599 }, "the answer its latest attempt got"),
          queryParam("type", { type: "string" }, "its event's type: exact, entity.* or *"),
          queryParam("subject", { type: "string" }, "its event's subject, e.g. reservation/123"),
          queryParam("limit", { type: "integer", minimum: 1, maximum: 500 }, "page size (default 50)"),
          queryParam("cursor", { type: "string" }, "the nextCursor of the previous page"),
        ],
        responses: {
          "200": ok("deliveries ({ data, nextCursor })"),
          "400": error("a filter that does not parse, named"),
          "404": error("unknown"),
          ...authErrors,
        },
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
  };
}
