import type { Request, RequestHandler } from "express";
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { allows, consumerMay, requiredRole } from "../domain/access.js";
import { createAuthenticator, type Authenticator, type Principal } from "../services/access.js";
import { HttpError } from "./errors.js";

declare module "express-serve-static-core" {
  interface Request {
    /** Who made an authenticated management call, for the audit log: "admin", or "alice (operator)". */
    actor?: string;
    principal?: Principal;
  }
}

export interface Access {
  /** Authenticates (ADMIN_TOKEN or a named token) and authorizes by role (domain/access.ts). */
  handler: RequestHandler;
  /** The principal a token opens, for the console's sign-in form (null: none; "unconfigured": nothing could). */
  authenticate: Authenticator["authenticate"];
  /** Writes the tokens' last uses not yet written (shutdown). */
  flush(): Promise<void>;
}

/** Bearer tokens (or, on the browser pages, the Basic-auth password), then the route's role. */
export function createAccess(opts: { adminToken: string | undefined; db: Database; log: Logger }): Access {
  const authenticator = createAuthenticator(opts);
  const handler: RequestHandler = (req, res, next) => {
    const ui = isAdminUi(req);
    authenticator.authenticate(presentedToken(req, ui)).then(
      (principal) => {
        if (principal === "unconfigured") {
          next(new HttpError(503, "admin_token_not_configured", "ADMIN_TOKEN is not set and no named token exists; management endpoints are disabled"));
          return;
        }
        if (!principal) {
          // Bull Board asks a browser for the token (Basic; the password is the token); the console answers with
          // its sign-in form instead (console/sign-in.ts), and takes Basic too when it is sent.
          if (ui && !isConsole(req)) res.setHeader("www-authenticate", 'Basic realm="event hub admin"');
          next(new HttpError(401, "unauthorized", "a valid bearer token is required"));
          return;
        }
        const path = req.originalUrl.split("?")[0]!;
        if (principal.role === "consumer") {
          if (!consumerMay(req.method, path)) {
            next(
              new HttpError(
                403,
                "forbidden",
                `a consumer's token manages its own subscriptions and reads /events and /snapshot; ${req.method} ${path} needs an operator`,
              ),
            );
            return;
          }
        } else {
          const needed = requiredRole(req.method, path);
          if (!allows(principal.role, needed)) {
            next(new HttpError(403, "forbidden", `this needs a token with the ${needed} role; ${JSON.stringify(principal.name)} is a ${principal.role}`));
            return;
          }
        }
        req.principal = principal;
        req.actor = principal.consumer ? `consumer:${principal.consumer.name}` : principal.tokenId ? `${principal.name} (${principal.role})` : principal.name;
        next();
      },
      (error: unknown) => next(error),
    );
  };
  return { handler, flush: authenticator.flush, authenticate: authenticator.authenticate };
}

/** The browser pages (Bull Board, the operator console): Basic auth is accepted there, and only there. */
const isAdminUi = (req: { originalUrl: string }) => /^\/admin\/(ui|console)(\/|\?|$)/.test(req.originalUrl);

const isConsole = (req: { originalUrl: string }) => /^\/admin\/console(\/|\?|$)/.test(req.originalUrl);

/**
 * The console's sign-in cookie: the token itself, HttpOnly, SameSite=Strict, scoped to /admin (the console and
 * Bull Board), for SIGN_IN_HOURS. It is what a browser's Basic-auth cache holds, in a cookie a page's script
 * cannot read and another site cannot send; the token's revocation or expiry ends it like any other use.
 */
export const SIGN_IN_COOKIE = "hub_console_signin";
export const SIGN_IN_HOURS = 12;

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `Bearer <token>`, or, on the browser pages, `Basic` whose password is the token (any user name) or the sign-in cookie. */
function presentedToken(req: Request, browserPage: boolean): string | undefined {
  const header = req.get("authorization") ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]!.trim();
  if (!browserPage) return undefined;
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (!basic) return readCookie(req, SIGN_IN_COOKIE);
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
