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
  return (req, _res, next) => {
    if (!expected) {
      next(new HttpError(503, "admin_token_not_configured", "ADMIN_TOKEN is not set; management endpoints are disabled"));
      return;
    }
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = createHash("sha256").update(match?.[1]?.trim() ?? "").digest();
    if (!match || !timingSafeEqual(given, expected)) {
      next(new HttpError(401, "unauthorized", "a valid bearer token is required"));
      return;
    }
    req.actor = "admin";
    next();
  };
}
