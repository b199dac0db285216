import express, { Router, type RequestHandler } from "express";
import type { AppDeps } from "./deps.js";
import { unstorableValue } from "../lib/text.js";
import { adminRoutes } from "./admin.js";
import { HttpError } from "./errors.js";
import { eventRoutes } from "./events.js";
import { reservationRoutes } from "./reservations.js";
import { subscriptionRoutes } from "./subscriptions.js";
import { trackingRoutes } from "./tracking.js";

/**
 * A path, query or body that Postgres could not store or compare (a NUL, a lone surrogate, an infinite
 * number) is a 400 naming what is wrong, before any route runs: never a 500 from the database.
 */
export const refuseUnstorable: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new HttpError(400, "invalid_request", "the path is not valid percent-encoded UTF-8"));
  }
  const problem = (unstorableValue(path) && `path: ${unstorableValue(path)}`) || (unstorableValue(req.query) && `query: ${unstorableValue(req.query)}`) || (unstorableValue(req.body) && `body: ${unstorableValue(req.body)}`);
  next(problem ? new HttpError(400, "invalid_characters", `invalid request ${problem}`) : undefined);
};

/** Every endpoint behind ADMIN_TOKEN, JSON in and out. */
export function managementRoutes(deps: AppDeps, admin: RequestHandler): Router {
  const router = Router();
  // JSON whatever the content type says (curl -d sends form-urlencoded): the management API speaks only JSON.
  const parse = express.json({ limit: "256kb", type: () => true });
  const json: RequestHandler = (req, res, next) => parse(req, res, (err?: unknown) => (err ? next(err) : refuseUnstorable(req, res, next)));
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
