import express, { Router, type RequestHandler } from "express";
import type { Logger } from "pino";
import type { InboundWriter } from "../pipeline/flovi/ingress.js";
import type { Metrics } from "../observability/metrics.js";
import { receiveFloviWebhook, STORED_HEADERS } from "../pipeline/flovi/ingress.js";
import { parseHubSignature, SIGNATURE_MESSAGES } from "../providers/flovi/signature.js";
import type { BatchedEnqueuer } from "../queues/batched-enqueue.js";
import { createRefusalBox } from "./refusal-box.js";
import { carrierOf, inRequestSpan, tracingOn } from "../observability/spans.js";

export interface FloviWebhookDeps {
  writer: InboundWriter;
  enqueuer: BatchedEnqueuer<"processFloviDelivery">;
  secrets: readonly string[];
  bodyLimitBytes: number;
  log: Logger;
  metrics: Metrics;
  /** Signature failures from one address before its webhooks are refused unread, for blockMs (refusal-box.ts). */
  refusal?: { limit: number; windowMs: number; blockMs: number };
}

const REJECTION_STATUS: Record<string, number> = { malformed_json: 400 };

/** Translates ingress outcomes to HTTP. The body is read raw, whatever its content type: the signature covers bytes. */
export function floviWebhookRoutes(deps: FloviWebhookDeps): Router {
  const router = Router();
  // A request without a well-formed signature header is refused before its body is read (and its connection
  // closed, so the rest of the body is never read either): unsigned floods cost almost nothing.
  const box = createRefusalBox({ limit: deps.refusal?.limit ?? 20, windowMs: deps.refusal?.windowMs ?? 10_000, blockMs: deps.refusal?.blockMs ?? 30_000 });
  const boxOn = (deps.refusal?.limit ?? 20) > 0;
  const cheapRefusal: RequestHandler = (req, res, next) => {
    const address = req.ip ?? "unknown";
    const until = boxOn ? box.blockedUntil(address) : null;
    if (until !== null) {
      // This address sent many wrong signatures just now: refused before its body is read (refusal-box.ts).
      deps.metrics.webhooksReceived.inc({ provider: "flovi", outcome: "refused", reason: "too_many_bad_signatures" });
      res.locals.reason = "too_many_bad_signatures";
      res.setHeader("connection", "close");
      res.setHeader("retry-after", String(Math.ceil((until - Date.now()) / 1000)));
      res.status(429).json({ error: "too_many_bad_signatures", message: "too many webhooks with a wrong signature from this address; retry later" });
      return;
    }
    const header = parseHubSignature(req.get("x-hub-signature"));
    if (header.ok || deps.secrets.length === 0) return next(); // unconfigured: the handler answers 503
    box.failed(address);
    deps.metrics.webhooksReceived.inc({ provider: "flovi", outcome: "unauthorized", reason: header.reason });
    res.locals.reason = header.reason;
    res.setHeader("connection", "close");
    res.status(401).json({ error: header.reason, message: SIGNATURE_MESSAGES[header.reason] });
  };
  router.post("/webhooks/flovi", cheapRefusal, express.raw({ type: () => true, limit: deps.bodyLimitBytes }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers = Object.fromEntries(
      STORED_HEADERS.flatMap((name) => {
        const value = req.headers[name];
        return typeof value === "string" ? [[name, value]] : [];
      }),
    );
    const request = { body, signature: req.get("x-hub-signature"), headers, requestId: String(req.id) };
    // Tracing on: the request's server span (continuing the caller's traceparent) says what became of it; its
    // context is stored with the delivery so that the drain, in any worker and after any restart, continues it.
    const outcome = tracingOn()
      ? await inRequestSpan({ method: "POST", route: "/webhooks/flovi", headers: req.headers }, { "hub.provider": "flovi" }, async (span) => {
          const received = await receiveFloviWebhook(deps, { ...request, traceContext: carrierOf() });
          span.setAttributes({ "hub.outcome": received.kind, ...("id" in received ? { "hub.inbound_delivery_id": received.id } : {}) });
          return received;
        })
      : await receiveFloviWebhook(deps, request);
    const count = (result: string, reason = "") => deps.metrics.webhooksReceived.inc({ provider: "flovi", outcome: result, reason });

    switch (outcome.kind) {
      case "accepted":
        count(outcome.duplicate ? "duplicate" : "accepted");
        // One line per request: pino-http's completion line carries these fields.
        res.locals.inboundDeliveryId = outcome.id;
        if (outcome.warnings.length === 0) {
          res.status(202).json({ id: outcome.id, duplicate: outcome.duplicate });
          return;
        }
        // Accepted all the same: the state is applied with the fallbacks named here (docs/events.md).
        if (!outcome.duplicate) for (const w of outcome.warnings) deps.metrics.payloadWarnings.inc({ field: w.field, problem: w.problem });
        res.locals.warnings = outcome.warnings.map((w) => `${w.field}:${w.problem}`).join(",");
        res.status(202).json({
          id: outcome.id,
          duplicate: outcome.duplicate,
          warnings: outcome.warnings.map(({ field, problem, fallback }) => ({ field, problem, fallback })),
        });
        return;
      case "ignored":
        count(outcome.duplicate ? "duplicate" : "ignored", outcome.reason);
        // Stored and answered 202 (Flovi must not retry it), but said: a misspelt event name shows here.
        if (!outcome.duplicate)
          req.log.info(
            { inboundDeliveryId: outcome.id, reason: outcome.reason },
            "flovi delivery ignored: not a reservation_status_change (stored; see GET /admin/webhooks)",
          );
        res.locals.inboundDeliveryId = outcome.id;
        res.locals.reason = outcome.reason;
        res.status(202).json({ id: outcome.id, duplicate: outcome.duplicate, ignored: true, reason: outcome.reason });
        return;
      case "rejected":
        count("rejected", outcome.reason);
        res.locals.inboundDeliveryId = outcome.id;
        res.locals.reason = outcome.reason;
        res.status(REJECTION_STATUS[outcome.reason] ?? 422).json({
          error: outcome.reason,
          message: outcome.detail ? `payload rejected: ${outcome.detail}` : "payload rejected",
          id: outcome.id,
          duplicate: outcome.duplicate,
        });
        return;
      case "unauthorized":
        box.failed(req.ip ?? "unknown");
        count("unauthorized", outcome.reason);
        res.locals.reason = outcome.reason;
        res
          .status(401)
          .json({ error: outcome.reason, message: SIGNATURE_MESSAGES[outcome.reason as keyof typeof SIGNATURE_MESSAGES] ?? "x-hub-signature does not verify" });
        return;
      case "not_configured":
        count("unavailable", "not_configured");
        res.status(503).json({ error: "webhook_secret_not_configured", message: "FLOVI_WEBHOOK_SECRET is not set" });
        return;
      case "unavailable":
        count("unavailable", outcome.reason);
        res.setHeader("retry-after", "5");
        res.status(503).json({ error: outcome.reason, message: "the delivery could not be stored; retry later" });
        return;
    }
  });
  return router;
}
