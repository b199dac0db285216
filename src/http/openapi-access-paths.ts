// The OpenAPI paths of access (docs/security.md): operators' tokens, consumers and their tokens, and the two
// routes a consumer uses on its own subscriptions' deliveries.
import { consumerChange, newConsumerInput, newConsumerToken } from "../services/consumers.js";
import { newTokenInput } from "../services/tokens.js";
import { authErrors, body, error, ok, pathParam, secured, toSchema } from "./openapi-parts.js";

export function accessPaths() {
  return {
    "/admin/tokens": {
      post: {
        ...secured,
        summary: "create a named token with a role (admin only); its value is in this answer and nowhere else",
        requestBody: body(toSchema(newTokenInput)),
        responses: {
          "201": ok("id, name, role, prefix, expiresAt and the token"),
          "400": error("invalid name, role or expiry"),
          "409": error("a live token has that name"),
          ...authErrors,
        },
      },
      get: { ...secured, summary: "every token with its last use, never its value (admin only)", responses: { "200": ok("tokens"), ...authErrors } },
    },
    "/admin/tokens/{id}": {
      delete: {
        ...secured,
        summary: "revoke a token: every api process refuses it within a second (admin only)",
        parameters: [pathParam("id")],
        responses: { "200": ok("the revoked token"), "404": error("no live token with that id"), ...authErrors },
      },
    },
    "/admin/consumers": {
      post: {
        ...secured,
        summary: "create a consumer (a downstream service) with the event types it may use, and its first token (admin only)",
        requestBody: body(toSchema(newConsumerInput)),
        responses: {
          "201": ok("the consumer and its token, shown once"),
          "400": error("invalid name or event types"),
          "409": error("name taken"),
          ...authErrors,
        },
      },
      get: { ...secured, summary: "every consumer with its live tokens and subscriptions (admin only)", responses: { "200": ok("consumers"), ...authErrors } },
    },
    "/admin/consumers/{id}": {
      patch: {
        ...secured,
        summary: "rename a consumer or change its allowed event types (admin only)",
        parameters: [pathParam("id")],
        requestBody: body(toSchema(consumerChange)),
        responses: { "200": ok("the consumer"), "400": error("invalid change"), "404": error("unknown"), "409": error("name taken"), ...authErrors },
      },
      delete: {
        ...secured,
        summary: "delete a consumer: its tokens stop working, its subscriptions are disabled and kept (admin only)",
        parameters: [pathParam("id")],
        responses: { "200": ok("the consumer and the subscriptions disabled"), "404": error("unknown"), ...authErrors },
      },
    },
    "/admin/consumers/{id}/tokens": {
      post: {
        ...secured,
        summary: "one more token for a consumer, for rotation (admin only)",
        parameters: [pathParam("id")],
        requestBody: { required: false, content: { "application/json": { schema: toSchema(newConsumerToken) } } },
        responses: { "201": ok("the token, shown once"), "404": error("unknown consumer"), ...authErrors },
      },
      get: {
        ...secured,
        summary: "a consumer's tokens, never their values (admin only)",
        parameters: [pathParam("id")],
        responses: { "200": ok("tokens"), ...authErrors },
      },
    },
    "/admin/consumers/{id}/tokens/{tokenId}": {
      delete: {
        ...secured,
        summary: "revoke one of a consumer's tokens (admin only)",
        parameters: [pathParam("id"), pathParam("tokenId")],
        responses: { "200": ok("the revoked token"), "404": error("no live token of that consumer"), ...authErrors },
      },
    },
    "/subscriptions/{id}/deliveries/{deliveryId}/retry": {
      post: {
        ...secured,
        summary: "send one of this subscription's deliveries again (as POST /admin/deliveries/{id}/retry; a consumer's own only)",
        parameters: [pathParam("id"), pathParam("deliveryId")],
        requestBody: { required: false, content: { "application/json": { schema: { type: "object", properties: { force: { type: "boolean" } } } } } },
        responses: {
          "202": ok("queued, and what happens next"),
          "404": error("unknown"),
          "409": error("already delivered, in flight, held or inactive"),
          ...authErrors,
        },
      },
    },
    "/subscriptions/{id}/recover": {
      post: {
        ...secured,
        summary: "send this subscription's failed deliveries since a time again (as POST /admin/subscriptions/{id}/recover; a consumer's own only)",
        parameters: [pathParam("id")],
        requestBody: body({
          type: "object",
          required: ["since"],
          properties: { since: { type: "string", format: "date-time" }, includePending: { type: "boolean" } },
        }),
        responses: { "202": ok("how many were queued"), "404": error("unknown"), "409": error("subscription inactive"), ...authErrors },
      },
    },
  };
}
