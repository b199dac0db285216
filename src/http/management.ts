import express, { Router, type RequestHandler } from "express";
import type { AppDeps } from "../app.js";
import { eventRoutes } from "./events.js";
import { reservationRoutes } from "./reservations.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { trackingRoutes } from "./tracking.js";

/** Every endpoint behind ADMIN_TOKEN, JSON in and out. */
export function managementRoutes(deps: AppDeps, admin: RequestHandler): Router {
  const router = Router();
  const json = express.json({ limit: "256kb" });
  for (const prefix of ["/reservations", "/tracking", "/subscriptions", "/events", "/admin"]) {
    router.use(prefix, admin, json);
  }
  router.use(reservationRoutes(deps));
  router.use(subscriptionRoutes(deps));
  router.use(eventRoutes(deps));
  router.use(trackingRoutes(deps));
  return router;
}
