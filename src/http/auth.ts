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
    // Browsers (Bull Board) may send the token as a Basic-auth password; everything else uses Bearer only.
    const presented = presentedToken(req.get("authorization") ?? "", isAdminUi(req));
    const given = createHash("sha256")
      .update(presented ?? "")
      .digest();
    if (presented === undefined || !timingSafeEqual(given, expected)) {
      // Browsers (Bull Board) get a prompt; they send the token as the Basic-auth password.
      if (isAdminUi(req)) res.setHeader("www-authenticate", 'Basic realm="event hub admin"');
      next(new HttpError(401, "unauthorized", "a valid bearer token is required"));
      return;
    }
    req.actor = "admin";
    next();
  };
}

/** The browser pages (Bull Board, the operator console): Basic auth is accepted there, and only there. */
const isAdminUi = (req: { originalUrl: string }) => /^\/admin\/(ui|console)(\/|\?|$)/.test(req.originalUrl);

/** `Bearer <token>`, or, where allowed, `Basic` whose password is the token (any user name). */
function presentedToken(header: string, basicAllowed: boolean): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]!.trim();
  if (!basicAllowed) return undefined;
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!.trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A browser carries Basic credentials to every request for the admin UI, including ones a hostile page
 * triggers: a state-changing request there must come from the UI's own origin. Browsers say where a request
 * comes from (`Sec-Fetch-Site`, `Origin`); clients that send neither (curl, scripts) are not browsers.
 */
export const sameOriginOnly: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const site = req.get("sec-fetch-site");
  const origin = req.get("origin");
  // req.protocol and req.host follow TRUST_PROXY: behind a TLS proxy the browser's origin is https.
  const own = `${req.protocol}://${req.host}`;
  if ((site !== undefined && site !== "same-origin") || (origin !== undefined && origin !== own)) {
    return next(new HttpError(403, "cross_origin_refused", "state-changing requests to the admin UI must come from the admin UI itself"));
  }
  next();
};
