import express, { Router, type RequestHandler } from "express";
import type { Access } from "./auth.js";
import type { RouteDeps } from "./deps.js";
import { adminRoutes } from "./admin.js";
import { consoleRoutes } from "./console/routes.js";
import { refuseUnstorable } from "./validate.js";
import { eventRoutes } from "./events.js";
import { snapshotRoutes } from "./snapshot.js";
import { reservationRoutes } from "./reservations.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { consumerRoutes } from "./consumers.js";
import { tokenRoutes } from "./tokens.js";
import { trackingRoutes } from "./tracking.js";

/** Every endpoint behind a token (ADMIN_TOKEN or a named one, by role: domain/access.ts), JSON in and out. */
export function managementRoutes(deps: RouteDeps, access: Access): Router {
  const router = Router();
  const admin = access.handler;
  // What operators read and do runs on their own small pool: a heavy console page waits for its connections,
  // never for the ingress's (docs/security.md). Consumers page the event log on a pool of their own (readerDb).
  const ops: RouteDeps = { ...deps, db: deps.operatorDb ?? deps.db };
  // JSON whatever the content type says (curl -d sends form-urlencoded): the management API speaks only JSON.
  const parse = express.json({ limit: "256kb", type: () => true });
  const json: RequestHandler = (req, res, next) => parse(req, res, (err?: unknown) => (err ? next(err) : refuseUnstorable(req, res, next)));
  for (const prefix of ["/reservations", "/tracking", "/subscriptions", "/events", "/snapshot"]) {
    router.use(prefix, admin, json);
  }
  // The console (HTML forms) and Bull Board bring their own body handling; the JSON API under /admin gets ours.
  router.use(consoleRoutes(ops, access));
  const ownBodies = (path: string) => path === "/ui" || path.startsWith("/ui/") || path === "/console" || path.startsWith("/console/");
  router.use("/admin", (req, res, next) => (ownBodies(req.path) ? next() : admin(req, res, (err?: unknown) => (err ? next(err) : json(req, res, next)))));
  router.use(reservationRoutes(ops));
  router.use(subscriptionRoutes(ops));
  router.use(eventRoutes({ ...deps, db: deps.readerDb ?? deps.db }));
  router.use(snapshotRoutes({ db: deps.readerDb ?? deps.db }));
  router.use(trackingRoutes(ops));
  router.use(adminRoutes(ops, admin));
  router.use(tokenRoutes(ops));
  router.use(consumerRoutes(ops));
  return router;
}
