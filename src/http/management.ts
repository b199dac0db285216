import express, { Router, type RequestHandler } from "express";
import type { AppDeps } from "./deps.js";
import { adminRoutes } from "./admin.js";
import { consoleRoutes } from "./console/routes.js";
import { refuseUnstorable } from "./validate.js";
import { eventRoutes } from "./events.js";
import { reservationRoutes } from "./reservations.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { trackingRoutes } from "./tracking.js";


/** Every endpoint behind ADMIN_TOKEN, JSON in and out. */
export function managementRoutes(deps: AppDeps, admin: RequestHandler): Router {
  const router = Router();
  // JSON whatever the content type says (curl -d sends form-urlencoded): the management API speaks only JSON.
  const parse = express.json({ limit: "256kb", type: () => true });
  const json: RequestHandler = (req, res, next) => parse(req, res, (err?: unknown) => (err ? next(err) : refuseUnstorable(req, res, next)));
  for (const prefix of ["/reservations", "/tracking", "/subscriptions", "/events"]) {
    router.use(prefix, admin, json);
  }
  // The console (HTML forms) and Bull Board bring their own body handling; the JSON API under /admin gets ours.
  router.use(consoleRoutes(deps, admin));
  const ownBodies = (path: string) => path === "/ui" || path.startsWith("/ui/") || path === "/console" || path.startsWith("/console/");
  router.use("/admin", (req, res, next) => (ownBodies(req.path) ? next() : admin(req, res, (err?: unknown) => (err ? next(err) : json(req, res, next)))));
  router.use(reservationRoutes(deps));
  router.use(subscriptionRoutes(deps));
  router.use(eventRoutes(deps));
  router.use(trackingRoutes(deps));
  router.use(adminRoutes(deps, admin));
  return router;
}
