import express, { Router, type RequestHandler } from "express";
import type { AppDeps } from "../app.js";
import { adminRoutes } from "./admin.js";
import { eventRoutes } from "./events.js";
import { reservationRoutes } from "./reservations.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { trackingRoutes } from "./tracking.js";

/** Every endpoint behind ADMIN_TOKEN, JSON in and out. */
export function managementRoutes(deps: AppDeps, admin: RequestHandler): Router {
  const router = Router();
  const json = express.json({ limit: "256kb" });
  for (const prefix of ["/reservations", "/tracking", "/subscriptions", "/events"]) {
    router.use(prefix, admin, json);
  }
  // Bull Board brings its own body handling; the JSON API under /admin gets ours.
  router.use("/admin", (req, res, next) => (req.path.startsWith("/ui") ? next() : admin(req, res, (err?: unknown) => (err ? next(err) : json(req, res, next)))));
  router.use(reservationRoutes(deps));
  router.use(subscriptionRoutes(deps));
  router.use(eventRoutes(deps));
  router.use(trackingRoutes(deps));
  router.use(adminRoutes(deps, admin));
  return router;
}
