import { Router } from "express";
import type { AppDeps } from "./deps.js";
import { uncovered } from "../domain/access.js";
import { SNAPSHOT_KINDS, type SnapshotKind, snapshot, snapshotQuery } from "../services/snapshot.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

/**
 * GET /snapshot/reservations|shipments|rentals: the entities not yet final (`all=true`: every one retention
 * keeps), `{position, items, next}`, for a consumer to start from before it follows GET /events?after=<position>.
 */
export function snapshotRoutes(deps: Pick<AppDeps, "db">): Router {
  const router = Router();
  router.get("/snapshot/:kind", async (req, res) => {
    const kind = req.params.kind as string;
    if (!Object.hasOwn(SNAPSHOT_KINDS, kind))
      throw new HttpError(404, "not_found", `no snapshot of ${JSON.stringify(kind)}; there are /snapshot/${Object.keys(SNAPSHOT_KINDS).join(", /snapshot/")}`);
    const entity = SNAPSHOT_KINDS[kind as SnapshotKind];
    // A consumer reads the state of the entities whose every event type it may read (docs/security.md, "Consumers").
    const allowed = req.principal?.consumer?.eventTypes;
    if (allowed && uncovered(allowed, [`${entity}.*`]).length > 0)
      throw new HttpError(403, "event_type_not_allowed", `this consumer reads ${allowed.join(", ")}; /snapshot/${kind} needs ${entity}.*`);
    const page = await snapshot(deps.db, kind as SnapshotKind, parseInput(snapshotQuery, req.query, "query"));
    if (page.kind === "bad_cursor") throw new HttpError(400, "invalid_cursor", `invalid query: cursor: ${page.reason}`);
    // The items as JSON text: the events' data goes out as Postgres stores it, not parsed and serialized again.
    res.type("application/json").send(`{"position":${JSON.stringify(page.position)},"items":[${page.items.join(",")}],"next":${JSON.stringify(page.next)}}`);
  });
  return router;
}
