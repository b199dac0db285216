// Cross-site request protection for the console's buttons, in two parts: the request must come from the
// console's own origin (auth.ts `sameOriginOnly`), and it must carry this session's token. The session is a
// random id in an HttpOnly, SameSite=Strict cookie scoped to /admin/console; the token is an HMAC of it under
// a key derived from the credential the browser signed in with (ADMIN_TOKEN or a named token): the server
// keeps no session state, a token is worthless with another credential, and a revoked token's session ends
// with it (its requests are refused before any form is read).
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { readCookie } from "../auth.js";
import { HttpError } from "../errors.js";

const COOKIE = "hub_console_session";
export const CONSOLE_PATH = "/admin/console";

/** The key a credential's console pages are signed with (auth.ts sets `req.principal` before any page). */
export function consoleKey(req: Request, purpose: string): Buffer {
  const credential = req.principal?.credentialKey;
  if (!credential) throw new Error("console page reached without a principal");
  return createHash("sha256").update(`console-${purpose}:`).update(credential).digest();
}

export function createCsrf() {
  const tokenFor = (req: Request, session: string) => createHmac("sha256", consoleKey(req, "csrf")).update(session).digest("base64url");

  /** The session's token, starting a session (setting its cookie) on the first page. */
  function token(req: Request, res: Response): string {
    if (typeof res.locals.consoleToken === "string") return res.locals.consoleToken;
    let session = readCookie(req, COOKIE);
    if (!session || !/^[A-Za-z0-9_-]{43}$/.test(session)) {
      session = randomBytes(32).toString("base64url");
      res.cookie(COOKIE, session, { httpOnly: true, sameSite: "strict", secure: req.secure, path: CONSOLE_PATH });
    }
    res.locals.consoleToken = tokenFor(req, session);
    return res.locals.consoleToken;
  }

  /** Refuses a POST without this session's token (403), before anything runs. */
  const verify: RequestHandler = (req, _res, next) => {
    const session = readCookie(req, COOKIE);
    const given = typeof req.body?._csrf === "string" ? Buffer.from(req.body._csrf) : Buffer.alloc(0);
    const expected = session ? Buffer.from(tokenFor(req, session)) : Buffer.alloc(1);
    if (!session || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      next(new HttpError(403, "csrf_token_invalid", "this form is stale or did not come from the console; reload the page and try again"));
      return;
    }
    next();
  };
  return { token, verify };
}
