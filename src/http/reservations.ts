import { Router } from "express";
import type { AppDeps } from "./deps.js";
import { reservationView } from "../services/read-model.js";
import { HttpError } from "./errors.js";

export function reservationRoutes(deps: Pick<AppDeps, "db">): Router {
  const router = Router();
  router.get("/reservations/:reservationId", async (req, res) => {
    const view = await reservationView(deps.db, req.params.reservationId);
    if (!view) throw new HttpError(404, "reservation_not_found", `no reservation ${req.params.reservationId}`);
    res.json(view);
  });
  return router;
}
