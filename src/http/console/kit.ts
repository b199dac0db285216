// What every console page module shares: the page and redirect helpers routes.ts builds (ConsoleKit), the
// content security policy, and links between pages.
import type { Request, RequestHandler, Response } from "express";
import { CONSOLE_PATH } from "./csrf.js";
import { html, type Markup } from "./html.js";
import type { PageContext } from "./views.js";

export const CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The headers of every console page: never cached, the policy above, and a same-origin referrer (not
 * helmet's no-referrer: with it a browser sends `Origin: null` on a form POST, and the same-origin check
 * could not tell the console's own buttons from another site's).
 */
export const pageHeaders = (res: Response) => res.set("cache-control", "no-store").set("referrer-policy", "same-origin").set("content-security-policy", CSP);

/** Who pressed a console button, for the audit log: "admin (console)", "alice (operator) (console)". */
export const consoleActor = (req: Request) => `${req.actor ?? "admin"} (console)`;

export interface ConsoleKit {
  verify: RequestHandler;
  page(req: Request, res: Response, title: string, body: Markup): void;
  back(req: Request, res: Response, notice: string): void;
  context(req: Request, res: Response): PageContext;
}

/** `reservation/4711` → a link to that story. */
export function entityLink(subject: string) {
  const [entity, id] = subject.split("/", 2) as [string, string | undefined];
  const path = { reservation: "reservations", shipment: "shipments", rental: "rentals" }[entity];
  return path && id ? html`<a href="${CONSOLE_PATH}/${path}/${encodeURIComponent(id)}">${subject}</a>` : html`${subject}`;
}

export const CONSOLE_ORIGIN = "http://console.invalid";

/**
 * Where a button returns: a console page, and nothing else. The value is resolved as a browser would
 * (dot segments, `%2e`, backslashes, `//host`) before it is checked, and only its path and query are kept.
 */
export function backPath(value: unknown): string {
  if (typeof value !== "string" || value.length > 2_000) return CONSOLE_PATH;
  let url: URL;
  try {
    url = new URL(value, `${CONSOLE_ORIGIN}${CONSOLE_PATH}`);
  } catch {
    return CONSOLE_PATH;
  }
  const inConsole = url.origin === CONSOLE_ORIGIN && (url.pathname === CONSOLE_PATH || url.pathname.startsWith(`${CONSOLE_PATH}/`));
  return inConsole ? `${url.pathname}${url.search}` : CONSOLE_PATH;
}
