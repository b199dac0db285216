// Signing in to the console with a token: a form (the token goes into an HttpOnly, SameSite=Strict cookie
// scoped to /admin, auth.ts SIGN_IN_COOKIE) or, for scripts, Basic auth whose password is the token. Any
// operator token opens it (ADMIN_TOKEN or a named one, with the role's rights); a consumer's does not. A
// revoked or expired token's session ends at its next request: the answer is this form, saying so.
import express, { type Request, type Response, type Router } from "express";
import type { Access } from "../auth.js";
import { readCookie, sameOriginOnly, SIGN_IN_COOKIE, SIGN_IN_HOURS } from "../auth.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html } from "./html.js";
import { backPath, pageHeaders } from "./kit.js";
import { layout } from "./views.js";

const SIGN_IN_PATH = `${CONSOLE_PATH}/sign-in`;

const cookieOptions = (req: Request) => ({ httpOnly: true, sameSite: "strict" as const, secure: req.secure, path: "/admin" });

/** The sign-in page, with `status` and what to say above the form. */
function signInPage(req: Request, res: Response, status: number, message: string, back = req.originalUrl): void {
  pageHeaders(res.status(status));
  res.type("html").send(
    layout(
      "Sign in",
      { csrf: "", back: CONSOLE_PATH },
      html`<p class="${status === 200 ? "muted" : "error"}" data-sign-in="${status}">${message}</p>
<form method="post" action="${SIGN_IN_PATH}" class="sign-in"><input type="hidden" name="back" value="${backPath(back)}">
<label>Token <input type="password" name="token" size="60" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button></form>
<p class="muted">An admin gives you a token (<code>hub tokens create</code>): a viewer reads, an operator also changes,
an admin also manages tokens and consumers. Signing in keeps it in a cookie for ${SIGN_IN_HOURS} hours.</p>`,
    ),
  );
}

/** When a console page was refused for want of a token: the form, and the end of a session whose token went away. */
export function signInAgain(req: Request, res: Response): void {
  const ended = readCookie(req, SIGN_IN_COOKIE) !== undefined && !req.get("authorization");
  if (ended) res.clearCookie(SIGN_IN_COOKIE, cookieOptions(req));
  signInPage(
    req,
    res,
    401,
    ended ? "Your session has ended: its token was revoked or has expired. Sign in with a valid token." : "Sign in with your token to use the console.",
    req.method === "GET" ? req.originalUrl : CONSOLE_PATH,
  );
}

export function signInRoutes(router: Router, access: Access): void {
  const form = express.urlencoded({ extended: false, limit: "4kb" });
  router.get(SIGN_IN_PATH, (req, res) => {
    const notice = req.query.out === "1" ? "Signed out." : "Sign in with your token to use the console.";
    signInPage(req, res, 200, notice, typeof req.query.back === "string" ? req.query.back : CONSOLE_PATH);
  });

  router.post(SIGN_IN_PATH, sameOriginOnly, form, async (req, res) => {
    const token = typeof req.body?.token === "string" ? req.body.token.trim() : "";
    const back = typeof req.body?.back === "string" ? req.body.back : CONSOLE_PATH;
    const principal = await access.authenticate(token);
    if (principal === "unconfigured") return signInPage(req, res, 503, "ADMIN_TOKEN is not set and no named token exists: nothing can sign in yet.", back);
    if (!principal) return signInPage(req, res, 401, "That token opens nothing: it is mistyped, revoked or expired.", back);
    if (principal.role === "consumer")
      return signInPage(req, res, 403, "A consumer's token works with the API (its own subscriptions and the event log), not the console.", back);
    req.log.info({ actor: principal.tokenId ? `${principal.name} (${principal.role})` : principal.name }, "console sign-in");
    res.cookie(SIGN_IN_COOKIE, token, { ...cookieOptions(req), maxAge: SIGN_IN_HOURS * 3_600_000 });
    res.redirect(303, backPath(back));
  });

  router.post(`${CONSOLE_PATH}/sign-out`, sameOriginOnly, (req, res) => {
    res.clearCookie(SIGN_IN_COOKIE, cookieOptions(req));
    res.redirect(303, `${SIGN_IN_PATH}?out=1`);
  });
}
