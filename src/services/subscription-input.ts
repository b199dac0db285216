// What a subscription's owner sends: creation and change, validated with the limits the database enforces.
import { z } from "zod";
import { isKnownEventPattern, validEventPatterns } from "../domain/events.js";
import { MAX_IN_FLIGHT, RATE_LIMIT } from "../domain/subscription-limits.js";
import { MAX_STATIC_HEADERS, refusedHeader } from "../domain/static-headers.js";
import { type Filter, filterProblems } from "../domain/filters.js";
import { AMQP_SHORT_STRING, BROKER_KINDS, natsSubjectProblem, parseBrokerUrl, templateProblem } from "../domain/destinations.js";

const eventTypes = z
  .array(z.string().refine(isKnownEventPattern, { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}; valid: ${validEventPatterns()}` }))
  .min(1)
  .max(100);

/** The fields a subscription's owner sets (docs/delivery.md); limits default to the documented values. */
const settingsShape = {
  description: z.string().max(500).nullable().optional(),
  eventTypes,
  /** "subject": one event of a subject at a time, in event-log order. */
  ordering: z.enum(["none", "subject"]).optional(),
  /** Requests in flight to the endpoint at most, across every worker process. */
  maxInFlight: z.number().int().min(MAX_IN_FLIGHT.min).max(MAX_IN_FLIGHT.max).optional(),
  /** Requests per second at most (0.001, one per 1,000 s, to 10,000); null for no limit. */
  rateLimitPerSecond: z
    .number({ error: `must be a number of requests per second from ${RATE_LIMIT.min} to ${RATE_LIMIT.max}, or null for no limit` })
    .min(RATE_LIMIT.min, `must be at least ${RATE_LIMIT.min} requests per second (one per 1,000 s) and at most ${RATE_LIMIT.max}, or null for no limit`)
    .max(RATE_LIMIT.max, `must be at most ${RATE_LIMIT.max} requests per second and at least ${RATE_LIMIT.min}, or null for no limit`)
    .nullable()
    .optional(),
  /** Static request headers sent with every attempt (docs/delivery.md, "Static headers"); `{}` removes them. */
  headers: z
    .record(z.string(), z.string())
    .refine((h) => Object.keys(h).length <= MAX_STATIC_HEADERS, `${MAX_STATIC_HEADERS} headers at most`)
    .refine((h) => new Set(Object.keys(h).map((n) => n.toLowerCase())).size === Object.keys(h).length, "each header name once (names are case-insensitive)")
    .optional(),
  /** CloudEvents Subscriptions API filters (docs/delivery.md, "Filters"); all must match; `[]` takes every event. */
  filters: z
    .array(z.unknown())
    .superRefine((filters, ctx) => {
      for (const p of filterProblems(filters)) ctx.addIssue({ code: "custom", path: p.path, message: p.message });
    })
    .transform((filters) => filters as Filter[])
    .optional(),
  /** Allows an `Authorization` among the headers (refused otherwise). */
  allowAuthorizationHeader: z.boolean().optional(),
};

/** Each static header checked (the name, the value), with `allowAuthorizationHeader` from the same request. */
function checkHeaders(v: { headers?: Record<string, string>; allowAuthorizationHeader?: boolean }, ctx: z.RefinementCtx) {
  for (const [name, value] of Object.entries(v.headers ?? {})) {
    const why = refusedHeader(name, value, v.allowAuthorizationHeader === true);
    if (why) ctx.addIssue({ code: "custom", path: ["headers", name], message: why });
  }
}

/** An unknown field is refused with the allowed ones listed: a typo must never pass silently. */
const strict = <S extends z.ZodRawShape>(shape: S) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}; allowed: ${Object.keys(shape).join(", ")}`
        : undefined,
  });

/** A routing key or subject: `{type}`, `{subject}` and `{source}` filled in per event. */
const template = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((t, ctx) => {
      const problem = templateProblem(t);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

const brokerUrl = (kind: (typeof BROKER_KINDS)[number]) =>
  z
    .string()
    .max(2048)
    .superRefine((raw, ctx) => {
      const parsed = parseBrokerUrl(kind, raw);
      if ("problem" in parsed) ctx.addIssue({ code: "custom", message: parsed.problem });
    });

/** A broker destination (docs/delivery.md, "Destinations"): RabbitMQ or NATS JetStream. */
const destination = z.discriminatedUnion(
  "type",
  [
    strict({
      type: z.literal("rabbitmq"),
      url: brokerUrl("rabbitmq"),
      /** The exchange to publish to ("" is the default exchange: the routing key names the queue). */
      exchange: z.string().max(AMQP_SHORT_STRING),
      routingKey: template(AMQP_SHORT_STRING).optional(),
    }),
    strict({
      type: z.literal("nats"),
      url: brokerUrl("nats"),
      subject: template(1024).superRefine((t, ctx) => {
        const problem = natsSubjectProblem(t);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    }),
  ],
  { error: `destination.type must be one of ${BROKER_KINDS.join(", ")} (or give "url" for an HTTP endpoint)` },
);

export const subscriptionInput = strict({
  /** An HTTP endpoint... */
  url: z.string().min(1).max(2048).optional(),
  /** ...or a broker: exactly one of the two. */
  destination: destination.optional(),
  ...settingsShape,
  /** A second endpoint on a URL that already has one for overlapping event types is refused unless this is true. */
  allowDuplicate: z.boolean().optional(),
})
  .refine((v) => (v.url === undefined) !== (v.destination === undefined), {
    error: 'give either "url" (an HTTP endpoint) or "destination" (a RabbitMQ or NATS broker), not both',
    path: ["url"],
  })
  .superRefine(checkHeaders);
export const subscriptionChange = strict({ ...settingsShape, eventTypes: eventTypes.optional() })
  .refine((v) => Object.keys(v).some((k) => k !== "allowAuthorizationHeader"), {
    error: `name at least one field to change: ${Object.keys(settingsShape)
      .filter((k) => k !== "allowAuthorizationHeader")
      .join(", ")}`,
  })
  .superRefine(checkHeaders);

export type SubscriptionInput = z.infer<typeof subscriptionInput>;
export type SubscriptionChange = z.infer<typeof subscriptionChange>;
