import { Router } from "express";
import { z } from "zod";
import type { AppDeps } from "../app.js";
import type { Prisma } from "../generated/prisma/client.js";
import { prunedThrough } from "../db/retention.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

const eventsQuery = z.object({
  type: z.string().regex(/^(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*))$/, "an event type or a wildcard like reservation.*").optional(),
  subject: z.string().min(1).max(300).optional(),
  /** The cursor: the `cursor` of the previous page (a log position). */
  after: z.string().regex(/^\d{1,18}$/, "a cursor returned by this endpoint").optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * The normalized event log, oldest first, as far back as RETENTION_EVENTS_MS (a cursor older than that: 410). Positions are assigned by the relay in commit order, so paging
 * with `after=<cursor>` never skips an event that committed late. Events appear once relayed (milliseconds).
 */
export function eventRoutes(deps: Pick<AppDeps, "db" | "config">): Router {
  const router = Router();
  router.get("/events", async (req, res) => {
    const q = parseInput(eventsQuery, req.query, "query");
    // A cursor from before the retention horizon would silently skip pruned events: say so instead.
    const horizon = q.after ? await prunedThrough(deps.db) : 0n;
    if (q.after && BigInt(q.after) < horizon) {
      throw new HttpError(410, "cursor_expired", `events up to position ${horizon} were pruned (kept ${Math.round(deps.config.RETENTION_EVENTS_MS / 86_400_000)} days); page again without a cursor, from the oldest event kept`);
    }
    const where: Prisma.EventWhereInput = {
      position: q.after ? { gt: BigInt(q.after) } : { not: null },
      ...(q.subject ? { subject: q.subject } : {}),
      ...(q.type && q.type !== "*" ? (q.type.endsWith(".*") ? { type: { startsWith: q.type.slice(0, -1) } } : { type: q.type }) : {}),
    };
    const rows = await deps.db.prisma.event.findMany({
      where,
      orderBy: { position: "asc" },
      take: q.limit + 1,
      select: { position: true, envelope: true },
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1)?.position;
    res.json({
      data: page.map((r) => r.envelope),
      cursor: last !== undefined && last !== null ? last.toString() : (q.after ?? null),
      hasMore: rows.length > q.limit,
    });
  });
  return router;
}
