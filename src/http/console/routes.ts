// The operator console, served by the api under /admin/console: plain server-rendered pages behind a token
// (ADMIN_TOKEN or a named one; a browser sends it as the Basic-auth password, as for Bull Board). Every button is a POST
// that must come from the console's origin and carry the session's token (csrf.ts), and calls the same
// admin service as the JSON API, with the same validation and the same audit rows.
import { createHmac } from "node:crypto";
import express, { Router, type ErrorRequestHandler, type Request, type Response } from "express";
import { sameOriginOnly, type Access } from "../auth.js";
import type { RouteDeps } from "../deps.js";
import { HttpError } from "../errors.js";
import { refuseUnstorable } from "../validate.js";
import { consoleKey, createCsrf, CONSOLE_PATH } from "./csrf.js";
import { html } from "./html.js";
import { manageRoutes } from "./manage.js";
import { accessPages } from "./access-pages.js";
import { pageHeaders, type ConsoleKit } from "./kit.js";
import { inboundPages } from "./inbound.js";
import { providerPages } from "./providers.js";
import { searchPage } from "./search.js";
import { signInAgain, signInRoutes } from "./sign-in.js";
import { storyPages } from "./stories.js";
import { subscriptionPages } from "./subscription-pages.js";
import { replayRoutes } from "./replay-form.js";
import { CONSOLE_CSS, layout, type PageContext } from "./views.js";
import { backPath, CONSOLE_ORIGIN } from "./kit.js";

export function consoleRoutes(deps: RouteDeps, access: Access): Router {
  const router = Router();
  const auth = access.handler;
  const csrf = createCsrf();
  const noticeSignature = (req: Request, text: string) => createHmac("sha256", consoleKey(req, "notice")).update(text).digest("base64url").slice(0, 22);

  const page = (req: Request, res: Response, title: string, body: ReturnType<typeof html>) => {
    const ctx = context(req, res);
    pageHeaders(res);
    res.type("html").send(layout(title, ctx, body));
  };
  // A notice is shown only when the console wrote it: its redirect signs it (`ns`), so a link cannot make
  // the console announce a text of someone else's.
  const context = (req: Request, res: Response): PageContext => {
    const notice =
      typeof req.query.notice === "string" && typeof req.query.ns === "string" && noticeSignature(req, req.query.notice) === req.query.ns
        ? req.query.notice
        : undefined;
    const p = req.principal;
    const signedIn = p && p.role !== "consumer" ? { name: p.tokenId ? p.name : "ADMIN_TOKEN", role: p.role, viaForm: !req.get("authorization") } : undefined;
    return { csrf: csrf.token(req, res), back: backPath(req.originalUrl), notice, signedIn };
  };
  const back = (req: Request, res: Response, notice: string) => {
    const url = new URL(backPath(req.body?.back), CONSOLE_ORIGIN);
    url.searchParams.delete("notice");
    url.searchParams.delete("ns");
    const text = notice.slice(0, 300);
    url.searchParams.set("notice", text);
    url.searchParams.set("ns", noticeSignature(req, text));
    res.redirect(303, `${url.pathname}${url.search}`);
  };

  router.get(`${CONSOLE_PATH}/console.css`, (_req, res) => {
    res.type("css").set("cache-control", "max-age=300").send(CONSOLE_CSS);
  });
  signInRoutes(router, access);
  router.use(CONSOLE_PATH, auth, sameOriginOnly, express.urlencoded({ extended: false, limit: "16kb" }), refuseUnstorable);

  const kit: ConsoleKit = { verify: csrf.verify, page, back, context };
  searchPage(router, deps, kit);
  storyPages(router, deps, kit);
  subscriptionPages(router, deps, kit);
  replayRoutes(router, deps, kit);
  inboundPages(router, deps, kit);
  providerPages(router, deps, kit);
  manageRoutes(router, deps, kit);
  accessPages(router, deps, kit);

  // --- errors: a page, not JSON, for a person at a browser ---------------------------------------------------
  router.use(CONSOLE_PATH, (req, _res, next) => next(new HttpError(404, "not_found", `no console page ${req.path}`)));
  const errorPage: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = err instanceof HttpError ? err : undefined;
    if (!known) req.log.error({ err }, "unhandled error");
    if (known?.status === 401) return signInAgain(req, res);
    const status = known?.status ?? 500;
    const message = known?.message ?? `internal error (request ${String(req.id)}); the log has the details`;
    // No session is started here: an error page has no buttons, and a 401 must not hand out a cookie.
    pageHeaders(res.status(status));
    res
      .type("html")
      .send(
        layout(
          `${status} ${known?.code.replace(/_/g, " ") ?? "internal error"}`,
          { csrf: "", back: CONSOLE_PATH },
          html`<p class="error" data-error="${known?.code ?? "internal_error"}">${message}</p><p><a href="${CONSOLE_PATH}">Search</a></p>`,
        ),
      );
  };
  router.use(CONSOLE_PATH, errorPage);

  return router;
}
