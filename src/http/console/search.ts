// The console's landing page: what needs a look, and the search by any id.
import type { Router } from "express";
import * as consoleData from "../../services/console.js";
import type { AppDeps } from "../deps.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { badge } from "./views.js";
import type { ConsoleKit } from "./kit.js";

/** A count capped at 10,001 reads as "10,000+". */
const count = (n: number) => (n > 10_000 ? "10,000+" : String(n));

export function searchPage(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  const { page } = kit;
  const db = deps.db;
  // --- search ---------------------------------------------------------------------------------------------
  router.get(CONSOLE_PATH, async (req, res) => {
    const q = typeof req.query.q === "string" ? req.query.q.trim().slice(0, 200) : "";
    const form = html`<form method="get" action="${CONSOLE_PATH}" role="search"><input type="search" name="q" value="${q}" autofocus
 placeholder="reservation id or external id, MFB order id or reference, GreenFlow booking code"> <button type="submit">Search</button></form>`;
    if (!q) {
      // What needs a look, before anyone knows an id.
      const look = await consoleData.needsALook(db);
      return page(
        req,
        res,
        "Event hub",
        html`${form}
<h2>Endpoints that need a look</h2>
${
  look.endpoints.length === 0
    ? html`<p class="muted" data-all-well>every endpoint is active and delivering</p>`
    : html`<table><tr><th>endpoint</th><th>status</th><th>failure run</th><th>failed (24 h)</th><th>retrying</th><th>held back</th></tr>
${look.endpoints.map(
  (e) => html`<tr data-attention="${e.id}"><td><a href="${CONSOLE_PATH}/subscriptions/${e.id}">${e.url}</a></td>
<td>${badge(e.status)}${e.reason ? html` <span class="muted">${e.reason}</span>` : ""}</td>
<td>${e.failures > 0 ? html`${e.failures} since ${time(e.failingSince)}` : ""}</td><td data-failed-day>${e.failedLastDay}</td><td data-retrying>${count(e.retrying)}</td><td>${e.held}</td></tr>`,
)}</table>`
}
<h2>Providers</h2>
${
  look.pausedProviders.length === 0
    ? html`<p class="muted">no provider paused</p>`
    : html`<ul>${look.pausedProviders.map(
        (p) => html`<li data-paused="${p.provider}"><a href="${CONSOLE_PATH}/providers">${p.provider}</a> paused until ${time(p.until)}
<span class="muted">${p.reason ?? ""}</span></li>`,
      )}</ul>`
}
<h2>Last inbound webhooks</h2>
${
  look.lastInbound.length === 0
    ? html`<p class="muted">none received yet</p>`
    : html`<table><tr><th>received</th><th>reservation</th><th>status</th><th>body</th></tr>
${look.lastInbound.map(
  (i) => html`<tr data-inbound="${i.id}"><td>${time(i.receivedAt)}</td>
<td>${i.reservationId ? html`<a href="${CONSOLE_PATH}/reservations/${encodeURIComponent(i.reservationId)}">${i.reservationId}</a>` : ""}</td>
<td>${badge(i.status)}${i.reason ? html` <span class="muted">${i.reason}</span>` : ""}</td><td><a href="${CONSOLE_PATH}/inbound/${i.id}/body">body</a></td>
</tr>`,
)}</table>`
}`,
      );
    }
    const found = await consoleData.search(db, q);
    const none = found.reservations.length + found.orders.length + found.bookings.length === 0;
    page(
      req,
      res,
      `Search: ${q}`,
      html`${form}${none ? html`<p class="muted">nothing matches ${q}</p>` : ""}
${
  found.reservations.length
    ? html`<h2>Reservations</h2><table><tr><th>id</th><th>external id</th><th>state</th><th>last change</th>
</tr>${found.reservations.map(
        (r) => html`<tr><td><a href="${CONSOLE_PATH}/reservations/${encodeURIComponent(r.id)}">${r.id}</a></td>
<td>${r.externalId ?? ""}</td><td>${badge(r.state)}</td><td>${time(r.lastChangedAt)}</td></tr>`,
      )}</table>`
    : ""
}
${
  found.orders.length
    ? html`<h2>MFB orders</h2><table><tr><th>order</th><th>reference</th><th>status</th><th>polling</th>
</tr>${found.orders.map(
        (o) => html`<tr><td><a href="${CONSOLE_PATH}/shipments/${o.id}">${o.id}</a></td><td>${o.reference ?? ""}</td>
<td>${o.status ?? "—"}</td><td>${o.active ? "active" : "stopped"}</td></tr>`,
      )}</table>`
    : ""
}
${
  found.bookings.length
    ? html`<h2>GreenFlow bookings</h2><table><tr><th>booking</th><th>local number</th><th>status</th><th>polling</th>
</tr>${found.bookings.map(
        (b) => html`<tr><td><a href="${CONSOLE_PATH}/rentals/${encodeURIComponent(b.bookingCode)}">${b.bookingCode}</a></td>
<td>${b.localNumber ?? ""}</td><td>${b.status ?? "—"}</td><td>${b.active ? "active" : "stopped"}</td></tr>`,
      )}</table>`
    : ""
}`,
    );
  });
}
