// buildApp(deps) returns the Express app and never listens: main.ts listens, tests use supertest.
import express, { type Express } from "express";
import helmet from "helmet";
import { createInboundWriter } from "./db/inbound-deliveries.js";
import { createBatchedEnqueuer } from "./queues/batched-enqueue.js";
import { createAccess } from "./http/auth.js";
import { errorHandler, notFound } from "./http/errors.js";
import { floviWebhookRoutes } from "./http/flovi-webhook.js";
import { healthRoutes } from "./http/health.js";
import { managementRoutes } from "./http/management.js";
import { subscriptionService as subscriptionServiceFor } from "./services/wiring.js";
import { openApiDocument } from "./http/openapi.js";
import { requestLogging, requestMetrics } from "./http/request-logging.js";
import { requestSpans } from "./http/request-span.js";
import { eventCatalogDocument } from "./domain/event-catalog.js";
import { cloudEventJsonSchema } from "./domain/events.js";

import type { AppDeps } from "./http/deps.js";
export type { AppDeps };

export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  // nosniff on every response, framing denied everywhere (the admin UI above all); no CSP: the API serves
  // JSON, and Bull Board's page ships inline scripts. TLS (and HSTS) belong to the proxy in front.
  app.use(helmet({ contentSecurityPolicy: false, strictTransportSecurity: false, frameguard: { action: "deny" }, crossOriginEmbedderPolicy: false }));
  // TRUST_PROXY (default false): behind a TLS-terminating proxy, req.protocol, req.host and req.secure follow
  // its X-Forwarded-* headers, so the console's same-origin check and its Secure cookie work.
  app.set("trust proxy", deps.config.TRUST_PROXY);
  // While shutting down, every response closes its connection so keep-alive clients move elsewhere.
  app.use((req, res, next) => {
    if (req.app.locals.draining) res.setHeader("connection", "close");
    next();
  });
  // First of the per-request middleware: the request's log line and everything after run inside its span.
  app.use(requestSpans());
  app.use(requestLogging(deps.log));
  app.use(requestMetrics(deps.metrics));

  app.use(healthRoutes({ ...deps, role: deps.ingress === false ? "console" : "api" }));
  // The root: a browser goes to the console; anything else gets where to go.
  app.get("/", (req, res) => {
    if (req.accepts(["json", "html"]) === "html") return res.redirect(302, "/admin/console");
    res.json({
      service: "logistics-event-hub",
      links: {
        console: "/admin/console",
        openapi: "/openapi.json",
        eventCatalog: "/schemas/events.json",
        ingress: "/webhooks/flovi",
        health: "/healthz",
        readiness: "/readyz",
        metrics: "/metrics",
      },
    });
  });
  const document = openApiDocument();
  app.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  const eventSchema = cloudEventJsonSchema();
  app.get("/schemas/event.json", (_req, res) => {
    res.json(eventSchema);
  });
  const catalog = eventCatalogDocument();
  app.get("/schemas/events.json", (_req, res) => {
    res.json(catalog);
  });
  const enqueuer = createBatchedEnqueuer(deps.queues, "processFloviDelivery", deps.log);
  // ADMIN_TOKEN and named tokens with roles (docs/security.md), looked up on the operators' pool.
  const access = createAccess({ adminToken: deps.config.ADMIN_TOKEN, db: deps.operatorDb ?? deps.db, log: deps.log });
  // Shutdown waits for enqueues still in flight after their requests were answered, and writes tokens' last uses.
  app.locals.drain = () => Promise.all([enqueuer.idle(), access.flush()]);
  if (deps.ingress === false)
    app.post("/webhooks/flovi", (_req, res) => {
      res.status(404).json({ error: "not_found", message: "this process serves operators (role console): Flovi's webhooks go to the api role" });
    });
  else
    app.use(
      floviWebhookRoutes({
        writer: createInboundWriter(deps.db),
        enqueuer,
        secrets: deps.config.FLOVI_WEBHOOK_SECRET,
        bodyLimitBytes: deps.config.WEBHOOK_BODY_LIMIT_BYTES,
        refusal: { limit: deps.config.WEBHOOK_BAD_SIGNATURE_LIMIT, windowMs: 10_000, blockMs: 30_000 },
        log: deps.log,
        metrics: deps.metrics,
      }),
    );

  // The services the management routes share, wired once, on the operators' pool.
  const subscriptionService = subscriptionServiceFor({ db: deps.operatorDb ?? deps.db, log: deps.log }, deps.config);
  app.use(managementRoutes({ ...deps, subscriptionService }, access));

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
