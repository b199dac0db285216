// With tracing on and the HTTP instrumentation left out (the default profile), every request still gets one
// server span: started here, continuing the caller's `traceparent`, named by the matched route once it is
// known (`GET /subscriptions/:id`), ended when the response is finished or the connection closes. Health
// probes and scrapes make none. With tracing off, or the HTTP instrumentation on, this costs one check.
import type { RequestHandler } from "express";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { hubStartsServerSpans, tracer } from "../observability/spans.js";

const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

export function requestSpans(): RequestHandler {
  return (req, res, next) => {
    if (!hubStartsServerSpans() || QUIET.has(req.path)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method, "url.path": req.path, "url.scheme": req.protocol } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (req.route) {
        const route = `${req.baseUrl}${String(req.route.path)}`;
        span.updateName(`${req.method} ${route}`);
        span.setAttribute("http.route", route);
      }
      span.setAttribute("http.response.status_code", res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once("finish", end);
    res.once("close", end);
    // The body arrives in the request's 'data' events, emitted outside this context: bind them, so the body
    // parser's callback (and every handler after it) runs inside the span.
    context.bind(active, req);
    context.with(active, next);
  };
}
