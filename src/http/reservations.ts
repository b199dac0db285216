import { Router } from "express";
import type { AppDeps } from "../app.js";
import { getReservationView } from "../db/reservations.js";
import { HttpError } from "./errors.js";

export function reservationRoutes(deps: Pick<AppDeps, "db">): Router {
  const router = Router();
  router.get("/reservations/:reservationId", async (req, res) => {
    const view = await getReservationView(deps.db.prisma, req.params.reservationId);
    if (!view) throw new HttpError(404, "reservation_not_found", `no reservation ${req.params.reservationId}`);
    res.json(view);
  });
  return router;
}
