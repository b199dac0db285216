import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { HttpError } from "./errors.js";

declare module "express-serve-static-core" {
  interface Request {
    /** Who made an authenticated management call, for the audit log. */
    actor?: string;
  }
}

/**
 * Bearer ADMIN_TOKEN, compared in constant time (both sides hashed first, so lengths never leak).
 * Without a configured token the protected endpoints refuse everything with 503.
 */
export function requireAdminToken(token: string | undefined): RequestHandler {
  const expected = token ? createHash("sha256").update(token).digest() : undefined;
  return (req, res, next) => {
    if (!expected) {
      next(new HttpError(503, "admin_token_not_configured", "ADMIN_TOKEN is not set; management endpoints are disabled"));
      return;
    }
    const presented = presentedToken(req.get("authorization") ?? "");
    const given = createHash("sha256").update(presented ?? "").digest();
    if (presented === undefined || !timingSafeEqual(given, expected)) {
      // Browsers (Bull Board) get a prompt; they send the token as the Basic-auth password.
      if (req.path.startsWith("/admin/ui") || req.originalUrl.startsWith("/admin/ui")) res.setHeader("www-authenticate", 'Basic realm="event hub admin"');
      next(new HttpError(401, "unauthorized", "a valid bearer token is required"));
      return;
    }
    req.actor = "admin";
    next();
  };
}

/** `Bearer <token>`, or `Basic` whose password is the token (any user name). */
function presentedToken(header: string): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]!.trim();
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!.trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}
