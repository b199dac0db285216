// Bull Board at /admin/ui: every queue, behind the admin token (a browser may send it as the Basic-auth
// password), and read-only: its own buttons would change queues without an audit row. Every change goes
// through the audited admin API, CLI and console (retry, retry all failed, remove); Bull Board answers 405 to
// any write. Its page is served with two changes: no web fonts from the internet (the page falls back to the
// system's sans-serif), and a link back to the operator console in plain sight at the top.
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { Router, type RequestHandler } from "express";
import type { AppDeps } from "./deps.js";
import { sameOriginOnly } from "./auth.js";
import { CONSOLE_PATH } from "./console/csrf.js";
import { HttpError } from "./errors.js";

const CONSOLE_LINK =
  `<a id="hub-console-link" href="${CONSOLE_PATH}" style="position:fixed;top:1.1rem;left:50%;transform:translateX(-50%);z-index:2147483647;` +
  "background:#2563eb;color:#fff;padding:.3rem .8rem;border-radius:4px;font:500 14px/1.2 system-ui,sans-serif;text-decoration:none" +
  '">← Operator console</a>';

/** Bull Board's HTML page as the hub serves it: any font stylesheet from the internet removed, the console link added. */
function boardPage(page: string): string {
  return page.replace(/<link[^>]*\bhref="https?:\/\/[^"]*fonts[^"]*"[^>]*>\s*/gi, "").replace(/<body[^>]*>/i, (body) => `${body}\n${CONSOLE_LINK}`);
}

export function queueBoard(deps: AppDeps, auth: RequestHandler): Router {
  const board = new ExpressAdapter();
  board.setBasePath("/admin/ui");
  createBullBoard({
    queues: deps.queues.all().map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter: board,
    // The console tells the story of one reservation, parcel or rental; Bull Board shows the queues.
    options: { uiConfig: { boardTitle: "Event hub queues", miscLinks: [{ text: "Operator console", url: CONSOLE_PATH }] } },
  });
  const ui = board.getRouter() as Router & { disable?: (setting: string) => void };
  ui.disable?.("x-powered-by"); // Bull Board mounts an Express app of its own
  // And whatever route a Bull Board version adds: no write reaches it.
  const readOnly: RequestHandler = (req, _res, next) =>
    ["GET", "HEAD", "OPTIONS"].includes(req.method)
      ? next()
      : next(
          new HttpError(405, "read_only", "the queue board is read-only: retry or remove jobs with the audited admin API, CLI or console (docs/security.md)"),
        );
  // Its page is rendered into one string: rewritten on its way out (its scripts and API answers pass as they are).
  const rewritePage: RequestHandler = (_req, res, next) => {
    const send = res.send.bind(res);
    res.send = ((body?: unknown) => send(typeof body === "string" && body.includes("__UI_CONFIG__") ? boardPage(body) : body)) as typeof res.send;
    next();
  };
  const router = Router();
  router.use("/admin/ui", auth, sameOriginOnly, readOnly, rewritePage, ui);
  return router;
}
