// The OpenAPI paths of a downstream service's first and worst days: the snapshot of one kind of entity
// (docs/events.md, "Starting from a snapshot") and a replay by time (docs/delivery.md, "Replaying a window").
import { replayInput } from "../services/replays.js";
import { authErrors, body, error, ok, pathParam, queryParam, secured, toSchema } from "./openapi-parts.js";

export function consumerPaths() {
  return {
    "/snapshot/{kind}": {
      get: {
        ...secured,
        summary: "every reservation, shipment or rental not yet final, as its latest event's data, and the log position to follow on from",
        description:
          "Apply every page, then GET /events?after=<position> and apply only the events whose data.sequence is above the one you hold. " +
          "The position is fixed on the first page and carried by the cursor. A consumer needs <kind>.* among its event types.",
        parameters: [
          { name: "kind", in: "path", required: true, schema: { type: "string", enum: ["reservations", "shipments", "rentals"] } },
          queryParam("limit", { type: "integer", minimum: 1, maximum: 1000 }, "page size (default 500)"),
          queryParam("cursor", { type: "string" }, "the `next` of the previous page"),
          queryParam("all", { type: "string", enum: ["true", "false"] }, "true: final entities too (those whose latest event is still kept)"),
        ],
        responses: {
          "200": ok("a page", {
            type: "object",
            required: ["position", "items", "next"],
            properties: {
              position: { type: "string", description: "the event-log position to read GET /events after, the same on every page" },
              items: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    subject: { type: "string" },
                    sequence: { type: "integer" },
                    eventId: { type: ["string", "null"], description: "the latest event's id; null when retention pruned it (data rebuilt, details empty)" },
                    time: { type: "string", format: "date-time" },
                    data: { description: "the data of the latest event (CloudEvent.data)" },
                  },
                },
              },
              next: { type: ["string", "null"], description: "the next page's cursor; null on the last page" },
            },
          }),
          "400": error("invalid limit or cursor (a cursor belongs to one kind and one value of all)"),
          "404": error("no such kind"),
          ...authErrors,
        },
      },
    },
    "/subscriptions/{id}/replay": {
      post: {
        ...secured,
        summary: "deliver the stored events of a window (when the hub wrote them) that the subscription takes again, in log order, with hub-replay",
        parameters: [pathParam("id")],
        requestBody: body(toSchema(replayInput)),
        responses: {
          "202": ok("the replay's id and how many events it delivers again", {
            type: "object",
            properties: { id: { type: "string" }, events: { type: "integer" } },
          }),
          "400": error("invalid window, subject or types; window_past_retention says how far back events are kept"),
          "404": error("no such subscription (or not the consumer's own)"),
          "409": error("the subscription is disabled"),
          ...authErrors,
        },
      },
    },
    "/subscriptions/{id}/replays/{replayId}": {
      get: {
        ...secured,
        summary: "a replay's request, how many deliveries are written, those by status; done once all are written and none is pending or held",
        parameters: [pathParam("id"), pathParam("replayId")],
        responses: { "200": ok("the replay"), "404": error("no such replay of this subscription"), ...authErrors },
      },
    },
  };
}
