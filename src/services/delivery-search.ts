// Searching a subscription's deliveries (GET /subscriptions/:id/deliveries, the console's subscription page,
// the CLI's `deliveries list`): one schema for the query, the event-type filter the event log shares, and the
// keyset cursor (`<created_at ISO>~<id>` of the last row of a page) that they pass on.
import { z } from "zod";
import { isKnownEventPattern, validEventPatterns } from "../domain/events.js";
import type { DeliverySearch } from "../db/webhook-deliveries.js";

/** `*`, `<entity>.*` or a known type; a typo would match nothing forever, so it is a 400 listing the valid ones. */
export const eventTypeFilter = z
  .string()
  .refine(isKnownEventPattern, { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}; valid: ${validEventPatterns()}` });

/** Keyset cursor: `<created_at ISO>~<id>` of the last row shown. */
export const keysetCursor = z
  .string()
  .regex(/^[0-9T:.\-Z]{20,30}~[0-9a-f-]{36}$/, "a cursor returned by this endpoint")
  .transform((v) => {
    const [at, id] = v.split("~") as [string, string];
    return { createdAt: new Date(at), id };
  })
  .refine((c) => !Number.isNaN(c.createdAt.getTime()), "a cursor returned by this endpoint");

export const cursorOf = (row: { createdAt: Date; id: string }) => `${row.createdAt.toISOString()}~${row.id}`;

export const DELIVERY_STATUSES = ["pending", "held", "succeeded", "failed", "cancelled"] as const;

const time = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

/** The query of a delivery search, as DeliverySearch (`cursor` becomes `before`). */
export const deliverySearchQuery = z
  .object({
    status: z.enum(DELIVERY_STATUSES).optional(),
    since: time.optional(),
    until: time.optional(),
    responseStatus: z.coerce.number().int().min(100).max(599).optional(),
    type: eventTypeFilter.optional(),
    subject: z.string().min(1).max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: keysetCursor.optional(),
  })
  .refine((q) => !q.since || !q.until || q.since < q.until, { message: "since must be before until", path: ["until"] })
  .transform(({ cursor, ...q }): DeliverySearch => ({ ...q, before: cursor }));

/** The filters of a search as query parameters (for the next page's link), the cursor left out. */
export function searchParams(q: DeliverySearch): URLSearchParams {
  const params = new URLSearchParams();
  if (q.status) params.set("status", q.status);
  if (q.since) params.set("since", q.since.toISOString());
  if (q.until) params.set("until", q.until.toISOString());
  if (q.responseStatus !== undefined) params.set("responseStatus", String(q.responseStatus));
  if (q.type) params.set("type", q.type);
  if (q.subject) params.set("subject", q.subject);
  return params;
}
