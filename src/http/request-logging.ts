import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import { pinoHttp } from "pino-http";
import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.js";
import { maskUrl } from "../lib/text.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/** pino-http with a request id: the caller's `x-request-id` when it is sane, a new uuid otherwise; echoed back. */
export function requestLogging(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log,
    genReqId(req, res) {
      const given = req.headers["x-request-id"];
      const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader("x-request-id", id);
      return id;
    },
    customLogLevel(_req, res, err) {
      // A 503 the service chose (unconfigured, storage down, shutting down) is expected: a warning, no stack.
      if (res.statusCode === 503 && !err) return "warn";
      if (err || res.statusCode >= 500) return "error";
      if (res.statusCode >= 400) return "warn";
      return "info";
    },
    // pino-http makes up an Error (with its stack) for any 5xx; an answered 503 needs none.
    customErrorObject: (_req, res, _error, fields) => (res.statusCode === 503 ? { ...fields, err: undefined } : fields),
    // Cheaper per request: the request logger only binds the request id, serializers are not wrapped.
    quietReqLogger: true,
    wrapSerializers: false,
    // Health probes and scrapes would drown everything else.
    autoLogging: { ignore: (req) => QUIET.has((req.url ?? "").split("?")[0]!) },
    serializers: {
      // Query values never reach the logs (an admin token or a secret passed as ?token=…): names only.
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: maskUrl(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // What the route learned (the stored delivery id, why it was refused) joins the one completion line.
    customProps: (_req, res) => {
      const locals = (res as unknown as { locals?: { inboundDeliveryId?: string; reason?: string; warnings?: string } }).locals ?? {};
      return {
        ...(locals.inboundDeliveryId ? { inboundDeliveryId: locals.inboundDeliveryId } : {}),
        ...(locals.reason ? { reason: locals.reason } : {}),
        // Field and problem only (e.g. "occurredAt:no_offset"): never the raw values.
        ...(locals.warnings ? { payloadWarnings: locals.warnings } : {}),
      };
    },
  });
}

export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on("finish", () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
}
