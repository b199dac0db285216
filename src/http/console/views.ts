// The console's pages. Every value is escaped by `html`; raw provider payloads are redacted as the logs are.
import { displayBody } from "../../services/console.js";
import type { DeliveryView } from "../../services/console.js";
import { allows, type Role } from "../../domain/access.js";
import { html, time, type Markup } from "./html.js";

export interface PageContext {
  csrf: string;
  /** The page's own path and query, where a button's POST returns. */
  back: string;
  notice?: string;
  /** Who the page is for: the token's name ("ADMIN_TOKEN" for the bootstrap token) and role; signed in by the form or by Basic. */
  signedIn?: { name: string; role: Role; viaForm: boolean };
}

/** Whether the page may offer buttons: an operator or an admin (a viewer's page has none; the server refuses them anyway). */
export const canChange = (ctx: PageContext) => ctx.signedIn !== undefined && allows(ctx.signedIn.role, "operator");

function whoBar(ctx: PageContext): Markup | string {
  const who = ctx.signedIn;
  if (!who) return "";
  const signOut = who.viaForm ? html` <form method="post" action="/admin/console/sign-out" class="inline"><button type="submit">Sign out</button></form>` : "";
  return html`<span class="who" data-signed-in="${who.role}">${who.name} · ${who.role}${who.role === "viewer" ? " (read only)" : ""}${signOut}</span>`;
}

export function layout(title: string, ctx: PageContext, body: Markup): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="console-token" content="${ctx.csrf}"><title>${title} · event hub console</title><link rel="stylesheet" href="/admin/console/console.css"></head>
<body><header><a class="brand" href="/admin/console">event hub console</a>
<nav><a href="/admin/console">Search</a><a href="/admin/console/subscriptions">Subscriptions</a>
<a href="/admin/console/inbound">Inbound webhooks</a><a href="/admin/console/providers">Providers</a><a href="/admin/ui">Queues</a>
${ctx.signedIn?.role === "admin" ? html`<a href="/admin/console/tokens">Tokens</a><a href="/admin/console/consumers">Consumers</a>` : ""}</nav>${whoBar(ctx)}</header>
<main>${ctx.notice ? html`<p class="notice" role="status">${ctx.notice}</p>` : ""}<h1>${title}</h1>${body}</main></body></html>`.text;
}

/** A failed delivery's Re-send, a waiting one's Send now, a delivered one's Send again (which asks to confirm). */
export function resendButton(ctx: PageContext, d: { id: string; status: string }) {
  if (d.status === "failed") return button(ctx, `/admin/console/deliveries/${d.id}/resend`, "Re-send");
  if (d.status === "succeeded") return button(ctx, `/admin/console/deliveries/${d.id}/resend`, "Send again…");
  return d.status === "pending" ? button(ctx, `/admin/console/deliveries/${d.id}/resend`, "Send now") : "";
}

/** A POST button carrying the session token and the page to return to; nothing on a viewer's page. */
export function button(ctx: PageContext, action: string, label: string, extra: Markup | string = "") {
  if (!canChange(ctx)) return "";
  return html`<form method="post" action="${action}" class="inline"><input type="hidden" name="_csrf" value="${ctx.csrf}">
<input type="hidden" name="back" value="${ctx.back}">${extra}<button type="submit">${label}</button></form>`;
}

export const badge = (status: string) => html`<span class="badge status-${status}">${status}</span>`;

/** A page shows this much of a stored body; the rest is behind a link to the whole (redacted the same way). */
const BODY_SHOWN_CHARS = 16_384;

/** Free text a person typed into a provider's form (notes, comments) is shown to admins only. */
const seesFreeText = (ctx: PageContext) => ctx.signedIn?.role === "admin";

export function prettyBody(ctx: PageContext, raw: Buffer | null, fullHref: string): Markup {
  if (!raw) return html`<p class="muted">body pruned (past its retention)</p>`;
  const shown = displayBody(raw, seesFreeText(ctx)) ?? `(not JSON, ${raw.length} bytes)`;
  if (shown.length <= BODY_SHOWN_CHARS) return html`<pre class="json">${shown}</pre>`;
  return html`<pre class="json">${shown.slice(0, BODY_SHOWN_CHARS)}</pre>
<p class="muted">first ${BODY_SHOWN_CHARS} of ${shown.length} characters · <a href="${fullHref}">the whole body</a> (${raw.length} bytes)</p>`;
}

export function deliveriesTable(ctx: PageContext, deliveries: DeliveryView[], subscriptionUrls: Map<string, string>): Markup {
  if (deliveries.length === 0) return html`<p class="muted">no deliveries (no subscription matched, or not relayed yet)</p>`;
  return html`<table class="deliveries"><thead><tr><th>subscriber</th><th>status</th><th>attempts</th><th></th></tr></thead><tbody>
${deliveries.map(
  (d) => html`<tr data-delivery="${d.id}" class="row-${d.status}">
<td><a href="/admin/console/subscriptions/${d.subscriptionId}">${subscriptionUrls.get(d.subscriptionId) ?? d.subscriptionId}</a></td>
<td>${badge(d.status)}</td><td>${attemptList(d)}</td>
<td>${resendButton(ctx, d)}</td></tr>`,
)}</tbody></table>`;
}

function attemptList(d: DeliveryView): Markup {
  if (d.attemptLog.length === 0) return html`<span class="muted">none yet</span>`;
  return html`<ol class="attempts">${d.attemptLog.map(
    (a) =>
      html`<li>${time(a.attemptedAt)} · ${a.statusCode ?? "no response"} · ${a.durationMs} ms
${a.error ? html` · <span class="error">${a.error}</span>` : ""}${a.responseExcerpt ? html`<br><code class="excerpt">${a.responseExcerpt}</code>` : ""}</li>`,
  )}</ol>`;
}

export const CONSOLE_CSS = `
:root{font-family:system-ui,sans-serif;color:#1b1f24;background:#f6f7f9}
body{margin:0}header{display:flex;gap:2rem;align-items:center;padding:.6rem 1.2rem;background:#1f2937;color:#fff}
header a{color:#fff;text-decoration:none}header nav{display:flex;gap:1.2rem}.brand{font-weight:600}
main{padding:1rem 1.5rem;max-width:1200px}h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;background:#fff;margin:.4rem 0}
th,td{border-bottom:1px solid #e3e6ea;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#eef0f3}.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.8rem;background:#e3e6ea}
.status-succeeded,.status-applied,.status-processed,.status-active{background:#c9f0d3;color:#0b5d22}
.status-failed,.status-rejected,.status-disabled{background:#fbd0d0;color:#8a1010}
.status-pending,.status-received{background:#fdecc0;color:#6b4a00}.status-held{background:#e6dcfa;color:#4b2a8a}
label{margin-right:.8rem}input[type=number]{width:6rem}
.status-stale,.status-repeated,.status-ignored,.status-costs_after_cancel,.status-ignored_after_terminal{background:#e3e6ea;color:#555}
.muted{color:#6b7280}.error{color:#8a1010}.notice{background:#e0ecff;padding:.5rem .8rem;border-radius:.3rem}
pre.json{background:#0f172a;color:#e2e8f0;padding:.6rem;border-radius:.3rem;overflow:auto;max-height:24rem;font-size:.8rem}
code.excerpt{font-size:.75rem;color:#374151}ol.attempts{margin:0;padding-left:1.2rem}
form.inline{display:inline}button{cursor:pointer;padding:.2rem .7rem}input[type=search]{width:min(48rem,100%);padding:.3rem;box-sizing:border-box}
.transition{background:#fff;border:1px solid #e3e6ea;border-radius:.3rem;padding:.6rem .8rem;margin:.6rem 0}
.transition.quiet{opacity:.75}.pager{margin:.8rem 0}
.who{margin-left:auto;font-size:.85rem;color:#d1d5db}.who button{margin-left:.5rem}form.sign-in{margin:1rem 0}
`;
