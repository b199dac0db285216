import type { ErrorRequestHandler, RequestHandler } from "express";

/** An error with a stable code for clients; the details go to the log, never the response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: "not_found", message: `no route for ${req.method} ${req.path}` });
};

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  if (res.headersSent) return;
  if (err instanceof HttpError) {
    res.status(err.status).json({ error: err.code, message: err.message, ...err.extra });
    return;
  }
  const parserError = err as BodyParserError;
  if (parserError.type === "entity.too.large") {
    res.status(413).json({ error: "payload_too_large", message: `body exceeds ${parserError.limit} bytes` });
    return;
  }
  if (parserError.type === "entity.parse.failed") {
    res.status(400).json({ error: "malformed_json", message: "request body is not valid JSON" });
    return;
  }
  if (typeof parserError.status === "number" && parserError.status >= 400 && parserError.status < 500) {
    res.status(parserError.status).json({ error: parserError.type ?? "bad_request", message: parserError.message });
    return;
  }
  req.log.error({ err }, "unhandled error");
  res.status(500).json({ error: "internal_error", message: "internal error" });
};
