// The OpenAPI paths under /admin: queues and jobs, webhooks, deliveries, recovery, retention, providers, audit.
import { authErrors, body, error, json, ok, pathParam, queryParam, secured } from "./openapi-parts.js";

export function adminPaths() {
  return {
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
  };
}
