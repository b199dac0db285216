import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "./deps.js";
import { eventLog } from "../services/read-model.js";
import { eventTypeFilter } from "../services/delivery-search.js";
import { uncovered } from "../domain/access.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

const eventsQuery = z.object({
  // A typo (`reservation.create`) would answer an empty list forever: an unknown type is a 400 with the valid ones.
  type: eventTypeFilter.optional(),
  subject: z.string().min(1).max(300).optional(),
  /** The cursor: the `cursor` of the previous page (a log position). */
  after: z
    .string()
    .regex(/^\d{1,18}$/, "a cursor returned by this endpoint")
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * The normalized event log, oldest first, as far back as RETENTION_EVENTS_MS (a cursor older than that: 410).
 * Positions are assigned by the relay in commit order, so paging with `after=<cursor>` never skips an event
 * that committed late. Events appear once relayed (milliseconds).
 */
export function eventRoutes(deps: Pick<AppDeps, "db" | "config">): Router {
  const router = Router();
  router.get("/events", async (req, res) => {
    const q = parseInput(eventsQuery, req.query, "query");
    // A consumer reads the event types it is allowed, no more (docs/security.md, "Consumers").
    const allowed = req.principal?.consumer?.eventTypes;
    if (allowed && q.type && uncovered(allowed, [q.type]).length > 0)
      throw new HttpError(403, "event_type_not_allowed", `this consumer reads ${allowed.join(", ")}; not ${q.type}`);
    const page = await eventLog(deps.db, { ...q, allowed });
    if (page.kind === "cursor_expired") {
      throw new HttpError(
        410,
        "cursor_expired",
        `events up to position ${page.prunedThrough} were pruned (kept ${Math.round(deps.config.RETENTION_EVENTS_MS / 86_400_000)} days); page again ` +
          `without a cursor, from the oldest event kept`,
      );
    }
    // The envelopes as stored (JSON text): no parse and stringify of a thousand events on the ingress's thread.
    res.type("application/json").send(`{"data":[${page.json.join(",")}],"cursor":${JSON.stringify(page.cursor)},"hasMore":${page.hasMore}}`);
  });
  return router;
}
