// The operator console, served by the api under /admin/console: plain server-rendered pages behind the
// admin token (a browser sends it as the Basic-auth password, as for Bull Board). Every button is a POST
// that must come from the console's origin and carry the session's token (csrf.ts), and calls the same
// admin service as the JSON API, with the same validation and the same audit rows.
import { createHmac } from "node:crypto";
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from "express";
import { z } from "zod";
import * as admin from "../../admin/service.js";
import * as consoleData from "../../services/console.js";
import * as subscriptions from "../../delivery/subscriptions.js";
import { subscriptionChange } from "../../delivery/subscriptions.js";
import { greenflowBookingView, mfbOrderView } from "../../services/tracking.js";
import { sameOriginOnly } from "../auth.js";
import type { AppDeps } from "../deps.js";
import { HttpError } from "../errors.js";
import { refuseUnstorable } from "../validate.js";
import { maskUrl } from "../../lib/text.js";
import { createCsrf, CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { manageRoutes } from "./manage.js";
import { badge, button, CONSOLE_CSS, deliveriesTable, displayBody, layout, prettyBody, type PageContext } from "./views.js";

const PAGE = 50;
/** What a payload warning's fallback means, in words (docs/events.md). */
const FALLBACK_WORDS: Record<string, string> = { receipt_time: "the receipt time was used", null: "left empty", kept: "kept as sent", ignored: "ignored" };
const CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const uuid = z.uuid();
const CONSOLE_ORIGIN = "http://console.invalid";

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
/** Keyset cursor for deliveries: `<created_at ISO>~<id>` of the last row shown. */
const deliveryCursor = z
  .string()
  .regex(/^[0-9T:.\-Z]{20,30}~[0-9a-f-]{36}$/)
  .transform((v) => {
    const [at, id] = v.split("~") as [string, string];
    return { createdAt: new Date(at), id };
  })
  .refine((c) => !Number.isNaN(c.createdAt.getTime()), "a cursor from this page");

export function consoleRoutes(deps: AppDeps, auth: RequestHandler): Router {
  const router = Router();
  const csrf = createCsrf(deps.config.ADMIN_TOKEN ?? "");
  const noticeKey = createHmac("sha256", deps.config.ADMIN_TOKEN ?? "")
    .update("console-notice")
    .digest();
  const noticeSignature = (text: string) => createHmac("sha256", noticeKey).update(text).digest("base64url").slice(0, 22);
  const svc: admin.AdminDeps = { db: deps.db, queues: deps.queues, log: deps.log };
  const db = deps.db;

  const page = (req: Request, res: Response, title: string, body: ReturnType<typeof html>) => {
    const ctx = context(req, res);
    // same-origin (not helmet's no-referrer): with no-referrer a browser sends `Origin: null` on a form POST,
    // and the same-origin check could not tell the console's own buttons from another site's.
    res.set("cache-control", "no-store").set("referrer-policy", "same-origin").set("content-security-policy", CSP);
    res.type("html").send(layout(title, ctx, body));
  };
  // A notice is shown only when the console wrote it: its redirect signs it (`ns`), so a link cannot make
  // the console announce a text of someone else's.
  const context = (req: Request, res: Response): PageContext => {
    const notice =
      typeof req.query.notice === "string" && typeof req.query.ns === "string" && noticeSignature(req.query.notice) === req.query.ns
        ? req.query.notice
        : undefined;
    return { csrf: csrf.token(req, res), back: backPath(req.originalUrl), notice };
  };
  const back = (req: Request, res: Response, notice: string) => {
    const url = new URL(backPath(req.body?.back), CONSOLE_ORIGIN);
    url.searchParams.delete("notice");
    url.searchParams.delete("ns");
    const text = notice.slice(0, 300);
    url.searchParams.set("notice", text);
    url.searchParams.set("ns", noticeSignature(text));
    res.redirect(303, `${url.pathname}${url.search}`);
  };

  router.get(`${CONSOLE_PATH}/console.css`, (_req, res) => {
    res.type("css").set("cache-control", "max-age=300").send(CONSOLE_CSS);
  });
  router.use(CONSOLE_PATH, auth, sameOriginOnly, express.urlencoded({ extended: false, limit: "16kb" }), refuseUnstorable);

  // --- search ---------------------------------------------------------------------------------------------
  router.get(CONSOLE_PATH, async (req, res) => {
    const q = typeof req.query.q === "string" ? req.query.q.trim().slice(0, 200) : "";
    const form = html`<form method="get" action="${CONSOLE_PATH}" role="search"><input type="search" name="q" value="${q}" autofocus placeholder="reservation id or external id, MFB order id or reference, GreenFlow booking code"> <button type="submit">Search</button></form>`;
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
    : html`<table><tr><th>endpoint</th><th>status</th><th>failure run</th><th>failed (24 h)</th><th>held back</th></tr>
${look.endpoints.map((e) => html`<tr data-attention="${e.id}"><td><a href="${CONSOLE_PATH}/subscriptions/${e.id}">${maskUrl(e.url)}</a></td><td>${badge(e.status)}${e.reason ? html` <span class="muted">${e.reason}</span>` : ""}</td><td>${e.failures > 0 ? html`${e.failures} since ${time(e.failingSince)}` : ""}</td><td>${e.failedLastDay || ""}</td><td>${e.held || ""}</td></tr>`)}</table>`
}
<h2>Providers</h2>
${look.pausedProviders.length === 0 ? html`<p class="muted">no provider paused</p>` : html`<ul>${look.pausedProviders.map((p) => html`<li data-paused="${p.provider}"><a href="${CONSOLE_PATH}/providers">${p.provider}</a> paused until ${time(p.until)} <span class="muted">${p.reason ?? ""}</span></li>`)}</ul>`}
<h2>Last inbound webhooks</h2>
${
  look.lastInbound.length === 0
    ? html`<p class="muted">none received yet</p>`
    : html`<table><tr><th>received</th><th>reservation</th><th>status</th><th>body</th></tr>
${look.lastInbound.map((i) => html`<tr data-inbound="${i.id}"><td>${time(i.receivedAt)}</td><td>${i.reservationId ? html`<a href="${CONSOLE_PATH}/reservations/${encodeURIComponent(i.reservationId)}">${i.reservationId}</a>` : ""}</td><td>${badge(i.status)}${i.reason ? html` <span class="muted">${i.reason}</span>` : ""}</td><td><a href="${CONSOLE_PATH}/inbound/${i.id}/body">body</a></td></tr>`)}</table>`
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
${found.reservations.length ? html`<h2>Reservations</h2><table><tr><th>id</th><th>external id</th><th>state</th><th>last change</th></tr>${found.reservations.map((r) => html`<tr><td><a href="${CONSOLE_PATH}/reservations/${encodeURIComponent(r.id)}">${r.id}</a></td><td>${r.externalId ?? ""}</td><td>${badge(r.state)}</td><td>${time(r.lastChangedAt)}</td></tr>`)}</table>` : ""}
${found.orders.length ? html`<h2>MFB orders</h2><table><tr><th>order</th><th>reference</th><th>status</th><th>polling</th></tr>${found.orders.map((o) => html`<tr><td><a href="${CONSOLE_PATH}/shipments/${o.id}">${o.id}</a></td><td>${o.reference ?? ""}</td><td>${o.status ?? "—"}</td><td>${o.active ? "active" : "stopped"}</td></tr>`)}</table>` : ""}
${found.bookings.length ? html`<h2>GreenFlow bookings</h2><table><tr><th>booking</th><th>local number</th><th>status</th><th>polling</th></tr>${found.bookings.map((b) => html`<tr><td><a href="${CONSOLE_PATH}/rentals/${encodeURIComponent(b.bookingCode)}">${b.bookingCode}</a></td><td>${b.localNumber ?? ""}</td><td>${b.status ?? "—"}</td><td>${b.active ? "active" : "stopped"}</td></tr>`)}</table>` : ""}`,
    );
  });

  // --- one entity's story ---------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/reservations/:id`, async (req, res) => {
    const story = await consoleData.reservationStory(db, req.params.id);
    if (!story) throw new HttpError(404, "not_found", `no reservation ${req.params.id}`);
    const ctx = context(req, res);
    const r = story.reservation;
    page(
      req,
      res,
      `Reservation ${r.id}`,
      html`<p>state ${badge(r.state)} · external id ${r.externalId ?? "—"} · last change ${time(r.lastChangedAt)}${r.cancellationReason ? html` · cancelled: ${r.cancellationReason}` : ""}${r.reconcileStoppedReason ? html` · not looked up: ${r.reconcileStoppedReason}` : ""}${r.finalCostsOverdueAt && r.state === "sealed" ? html` · <strong data-overdue>final costs overdue</strong> (flagged ${time(r.finalCostsOverdueAt)})` : ""}</p>
<h2>Timeline (${story.transitions.length} reports)</h2>
${story.transitions.map(
  (t) => html`<section class="transition${t.outcome === "applied" ? "" : " quiet"}" data-state="${t.toState}" data-outcome="${t.outcome}">
<strong>${t.fromState ?? "∅"} → ${t.toState}</strong> ${badge(t.outcome)} <span class="muted">via ${t.source} · occurred ${time(t.occurredAt)} · received ${time(t.receivedAt)}</span>
${t.inbound && t.inbound.warnings.length > 0 ? html`<ul class="warnings">${t.inbound.warnings.map((w) => html`<li data-warning="${w.field}:${w.problem}">⚠ ${w.field}: ${w.problem.replaceAll("_", " ")} → ${FALLBACK_WORDS[w.fallback] ?? w.fallback} <span class="muted">(sent: <code>${w.raw}</code>)</span></li>`)}</ul>` : ""}
${t.inbound ? html`<details><summary>stored delivery ${t.inbound.id} (${t.inbound.status}${t.inbound.statusReason ? `: ${t.inbound.statusReason}` : ""})</summary>${prettyBody(t.inbound.rawBody, `${CONSOLE_PATH}/inbound/${t.inbound.id}/body`)}</details>` : ""}
${t.emitted ? html`<p>event <code>${t.emitted.event.type}</code> <span class="muted">${t.emitted.event.id}</span></p>${deliveriesTable(ctx, t.emitted.deliveries, story.subscriptionUrls)}` : html`<p class="muted">no event (${t.outcome})</p>`}
</section>`,
)}`,
    );
  });

  for (const [kind, entity] of [
    ["shipments", "shipment"],
    ["rentals", "rental"],
  ] as const) {
    router.get(`${CONSOLE_PATH}/${kind}/:id`, async (req, res) => {
      const view =
        entity === "shipment"
          ? uuid.safeParse(req.params.id).success
            ? await mfbOrderView(db, req.params.id)
            : null
          : await greenflowBookingView(db, req.params.id);
      if (!view) throw new HttpError(404, "not_found", `no ${entity} ${req.params.id}`);
      const story = await consoleData.trackedStory(db, entity, req.params.id);
      const ctx = context(req, res);
      page(
        req,
        res,
        `${entity === "shipment" ? "MFB order" : "GreenFlow booking"} ${req.params.id}`,
        html`<p>status ${badge(view.status ?? "none")} · polling ${view.polling.active ? "active" : `stopped (${view.polling.stoppedReason ?? ""})`} · last poll ${time(view.polling.lastPolledAt)}${view.polling.lastError ? html` · <span class="error">${view.polling.lastError}</span>` : ""}</p>
<h2>Timeline (${story.events.length} events, via poll)</h2>
${story.events.map(
  ({
    event,
    deliveries,
  }) => html`<section class="transition" data-type="${event.type}"><strong>${event.type}</strong> <span class="muted">${time(new Date(event.time))} · ${event.id}</span>
<details><summary>event</summary><pre class="json">${JSON.stringify(event.data, null, 2)}</pre></details>${deliveriesTable(ctx, deliveries, story.subscriptionUrls)}</section>`,
)}`,
      );
    });
  }

  // --- subscriptions ---------------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/subscriptions`, async (req, res) => {
    const after = deliveryCursor.optional().catch(undefined).parse(req.query.after);
    const rows = await consoleData.subscriptionsOverview(db, { limit: PAGE, after });
    const last = rows.at(-1);
    const ctx = context(req, res);
    page(
      req,
      res,
      "Subscriptions",
      html`<details${rows.length === 0 ? html` open` : ""}><summary>New subscription</summary>
${button(
  ctx,
  `${CONSOLE_PATH}/subscriptions`,
  "Create",
  html`<label>URL <input type="url" name="url" size="40" required placeholder="https://receiver.example.com/hooks"></label>
<label>event types <input type="text" name="eventTypes" size="30" required placeholder="reservation.*, shipment.delivered"></label>
<label>description <input type="text" name="description" size="20"></label>
<label>ordering <select name="ordering"><option value="none">none</option><option value="subject">subject</option></select></label> `,
)}</details>
<table><tr><th>url</th><th>status</th><th>failure run</th><th>last success</th><th>deliveries</th></tr>
${rows.map(
  (
    s,
  ) => html`<tr data-subscription="${s.id}"><td><a href="${CONSOLE_PATH}/subscriptions/${s.id}">${maskUrl(s.url)}</a></td><td>${badge(s.status)}${s.disabledReason ? html`<br><span class="muted">${s.disabledReason}</span>` : ""}</td>
<td>${s.consecutiveFailures > 0 ? html`${s.consecutiveFailures} failed since ${time(s.failingSince)}` : html`<span class="muted">none</span>`}</td><td>${time(s.lastSuccessAt)}</td>
<td>${Object.entries(s.counts).map(([status, n]) => html`${badge(status)} ${n} `)}${badge("succeeded")} <span class="muted">24 h</span> ${s.succeededLastDay}</td></tr>`,
)}</table>${rows.length === PAGE && last ? html`<p><a rel="next" href="${CONSOLE_PATH}/subscriptions?after=${last.createdAt.toISOString()}~${last.id}">next ${PAGE}</a></p>` : ""}`,
    );
  });

  router.get(`${CONSOLE_PATH}/subscriptions/:id`, async (req, res) => {
    const status = z.enum(["failed", "pending", "held", "succeeded"]).catch("failed").parse(req.query.status);
    const before = deliveryCursor.optional().catch(undefined).parse(req.query.before);
    const found = uuid.safeParse(req.params.id).success ? await consoleData.subscriptionFailures(db, req.params.id, { status, limit: PAGE, before }) : null;
    if (!found) throw new HttpError(404, "not_found", `no subscription ${req.params.id}`);
    const { subscription: s, deliveries, lane } = found;
    const ctx = context(req, res);
    const last = deliveries.at(-1);
    const since = new Date(Date.now() - 24 * 3600_000).toISOString().slice(0, 16);
    page(
      req,
      res,
      `Subscription ${maskUrl(s.url)}`,
      html`<p>${badge(s.status)} · ${s.eventTypes.join(", ")} · failure run ${s.consecutiveFailures}${s.failingSince ? html` since ${time(s.failingSince)}` : ""}</p>
${s.description ? html`<p class="muted">${s.description}</p>` : ""}
<h2>Delivery lane</h2>
<table class="lane"><tr><th>in flight</th><th>waiting</th><th>retrying</th><th>held back (ordered mode)</th><th>paused</th></tr>
<tr data-lane="${s.id}"><td>${lane.inFlight} of at most ${s.maxInFlight}</td><td>${lane.waiting}</td><td>${lane.retrying}</td>
<td>${lane.held > 0 ? html`${lane.held} deliveries of ${lane.heldSubjects} subject${lane.heldSubjects === 1 ? "" : "s"}, since ${time(lane.heldSince)}` : html`<span class="muted">none</span>`}</td>
<td>${lane.pausedUntil ? html`until ${time(lane.pausedUntil)} <span class="muted">${lane.pauseReason ?? ""}</span>` : html`<span class="muted">no</span>`}</td></tr></table>
<p>Ordering <strong>${s.ordering === "subject" ? "per subject (one event of a subject at a time, in log order)" : "none"}</strong> · at most ${s.maxInFlight} in flight · ${s.rateLimitPerSecond === null ? "no rate limit" : html`at most ${s.rateLimitPerSecond} per second`}</p>
${button(
  ctx,
  `${CONSOLE_PATH}/subscriptions/${s.id}/settings`,
  "Save settings",
  html`<label>event types <input type="text" name="eventTypes" size="40" value="${s.eventTypes.join(", ")}" required></label>
<label>description <input type="text" name="description" size="30" value="${s.description ?? ""}"></label><br>
<label>ordering <select name="ordering"><option value="none"${s.ordering === "none" ? html` selected` : ""}>none</option><option value="subject"${s.ordering === "subject" ? html` selected` : ""}>subject</option></select></label>
<label>max in flight <input type="number" name="maxInFlight" min="1" max="1000" step="1" value="${s.maxInFlight}" required></label>
<label>requests per second <input type="number" name="rateLimitPerSecond" min="0" max="10000" step="any" value="${s.rateLimitPerSecond ?? ""}" placeholder="no limit"></label> `,
)}
<h2>Endpoint</h2>
<p>${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/test`, "Send test event")} ${
        s.status === "active"
          ? button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/disable`, "Disable")
          : button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/enable`, "Enable")
      } ${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/rotate-secret`, "Rotate secret")} ${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/delete`, "Delete")}</p>
<p class="muted">The test sends a signed <code>hub.test</code> to this endpoint only. Rotating shows the new secret once; deliveries are signed with the old one too for SECRET_ROTATION_GRACE_MS.</p>
<h2>Recover</h2><p>Re-send every failed delivery created since a time (UTC), and optionally send the ones waiting for their next attempt now:</p>
${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/recover`, "Recover since…", html`<input type="datetime-local" name="since" value="${since}" required> <label><input type="checkbox" name="includePending" value="yes"> also send waiting ones now</label> `)}
<h2>Deliveries: ${["failed", "pending", "held", "succeeded"].map((st) => (st === status ? html`<strong>${st}</strong> ` : html`<a href="?status=${st}">${st}</a> `))}</h2>
${
  deliveries.length === 0
    ? html`<p class="muted">no ${status} deliveries</p>`
    : html`<table class="deliveries"><tr><th>event</th><th>subject</th><th>created</th><th>status</th><th>attempts</th><th>last error</th><th></th></tr>
${deliveries.map(
  (
    d,
  ) => html`<tr data-delivery="${d.id}" class="row-${d.status}"><td>${d.eventType}</td><td>${entityLink(d.subject)}</td><td>${time(d.createdAt)}</td><td>${badge(d.status)}</td><td>${d.attempts}</td>
<td>${d.lastStatusCode ?? ""} ${d.lastError ?? ""}</td><td>${d.status === "failed" ? button(ctx, `${CONSOLE_PATH}/deliveries/${d.id}/resend`, "Re-send") : d.status === "pending" ? button(ctx, `${CONSOLE_PATH}/deliveries/${d.id}/resend`, "Send now") : ""}</td></tr>`,
)}</table>`
}
${last && deliveries.length === PAGE ? html`<p class="pager"><a href="?status=${status}&before=${last.createdAt.toISOString()}~${last.id}">older →</a></p>` : ""}`,
    );
  });

  // --- inbound webhooks ------------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/inbound/:id/body`, async (req, res) => {
    const found = uuid.safeParse(req.params.id).success ? await consoleData.storedBody(db, req.params.id) : null;
    if (!found) throw new HttpError(404, "not_found", `no inbound delivery ${req.params.id}`);
    res.set("cache-control", "no-store").set("content-security-policy", CSP).set("x-content-type-options", "nosniff");
    if (!found.body) return res.type("text/plain").send("body pruned (past its retention)");
    const shown = displayBody(found.body);
    res.type(shown === null ? "text/plain" : "application/json").send(shown ?? `(not JSON, ${found.body.length} bytes)`);
  });

  router.get(`${CONSOLE_PATH}/inbound`, async (req, res) => {
    const status = z.enum(["failed", "rejected", "ignored"]).catch("failed").parse(req.query.status);
    const before = z.iso.datetime({ offset: true }).optional().catch(undefined).parse(req.query.before);
    const rows = await consoleData.inboundNeedingAttention(db, status, PAGE, before ? new Date(before) : undefined);
    const ctx = context(req, res);
    const last = rows.at(-1);
    page(
      req,
      res,
      "Inbound webhooks",
      html`<h2>${["failed", "rejected", "ignored"].map((st) => (st === status ? html`<strong>${st}</strong> ` : html`<a href="?status=${st}">${st}</a> `))}</h2>
${status === "ignored" ? html`<p class="muted">Signed and stored, but not a reservation status change (another event name, the dashboard's test ping): answered 202, never applied.</p>` : ""}
${
  rows.length === 0
    ? html`<p class="muted">no ${status} inbound webhooks</p>`
    : html`<table><tr><th>delivery</th><th>received</th><th>reason</th><th>times processed</th><th>body</th><th></th></tr>
${rows.map((r) => html`<tr data-inbound="${r.id}"><td>${r.id}</td><td>${time(r.receivedAt)}</td><td>${r.statusReason ?? ""}</td><td>${r.processCount}</td><td><a href="${CONSOLE_PATH}/inbound/${r.id}/body">${r.bodyBytes} bytes</a></td><td>${button(ctx, `${CONSOLE_PATH}/inbound/${r.id}/replay`, "Replay")}</td></tr>`)}</table>`
}
${last && rows.length === PAGE ? html`<p class="pager"><a href="?status=${status}&before=${last.receivedAt.toISOString()}">older →</a></p>` : ""}`,
    );
  });

  // --- providers -------------------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/providers`, async (req, res) => {
    const rows = await admin.providersOverview(svc, deps.config);
    const ctx = context(req, res);
    page(
      req,
      res,
      "Providers",
      html`<table><tr><th>provider</th><th>polling</th><th>paused until</th><th>why</th><th></th></tr>
${rows.map(
  (
    p,
  ) => html`<tr data-provider="${p.provider}"><td>${p.provider === "mfb" ? "MyFlyingBox" : "GreenFlow"}</td><td>${p.enabled ? badge("active") : html`${badge("disabled")} <span class="muted">${p.why}</span>`}</td>
<td>${p.paused ? time(p.pausedUntil) : html`<span class="muted">not paused</span>`}</td><td>${p.pauseReason ?? ""}</td><td>${p.paused ? button(ctx, `${CONSOLE_PATH}/providers/${p.provider}/resume`, "Resume") : ""}</td></tr>`,
)}</table>`,
    );
  });

  // --- actions: the admin service's, as the JSON API calls them ------------------------------------------
  manageRoutes(router, deps, { verify: csrf.verify, page, back });
  const actor = "admin (console)";
  router.post(`${CONSOLE_PATH}/deliveries/:id/resend`, csrf.verify, async (req, res) => {
    if (!uuid.safeParse(String(req.params.id)).success) throw new HttpError(404, "not_found", `no delivery ${String(req.params.id)}`);
    const result = await admin.retryDelivery(svc, actor, String(req.params.id));
    const notice = {
      not_found: `no delivery ${String(req.params.id)}`,
      in_progress: "an attempt of this delivery is under way",
      held: "held behind an earlier event of its subject (ordered mode); it goes out right after that one",
      subscription_inactive: "enable the subscription first",
      queued: result.kind === "queued" && result.sendNow ? `delivery ${String(req.params.id)} is sent now` : `delivery ${String(req.params.id)} queued again`,
    }[result.kind];
    back(req, res, notice);
  });

  router.post(`${CONSOLE_PATH}/subscriptions/:id/settings`, csrf.verify, async (req, res) => {
    const id = String(req.params.id);
    if (!uuid.safeParse(id).success) throw new HttpError(404, "not_found", `no subscription ${id}`);
    // A form sends text; an empty rate means no limit. The JSON API's schema then validates as for a PATCH.
    const form = req.body ?? {};
    const number = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v);
    const list = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.split(/[\s,]+/).filter(Boolean) : undefined);
    const parsed = subscriptionChange.safeParse({
      eventTypes: list(form.eventTypes),
      ...(typeof form.description === "string" ? { description: form.description.trim() === "" ? null : form.description.trim() } : {}),
      ordering: form.ordering,
      maxInFlight: number(form.maxInFlight),
      rateLimitPerSecond: form.rateLimitPerSecond === "" || form.rateLimitPerSecond === "0" ? null : number(form.rateLimitPerSecond),
    });
    if (!parsed.success) return back(req, res, `not saved: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const updated = await subscriptions.change({ db, log: deps.log }, actor, id, parsed.data);
    back(req, res, updated ? "settings saved" : `no subscription ${id}`);
  });

  router.post(`${CONSOLE_PATH}/subscriptions/:id/recover`, csrf.verify, async (req, res) => {
    // datetime-local sends no offset: the form says UTC.
    const since = z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/)
      .safeParse(req.body?.since);
    if (!since.success) return back(req, res, "give a date and time to recover from");
    const result = await admin.recoverSubscription(svc, actor, String(req.params.id), new Date(`${since.data}Z`), {
      includePending: req.body?.includePending === "yes",
    });
    back(
      req,
      res,
      result.kind === "queued"
        ? [`${result.requeued} failed deliveries queued again, ${result.sentNow} waiting ones sent now`, ...result.notes].join("; ")
        : result.kind === "subscription_inactive"
          ? "enable the subscription first"
          : `no subscription ${String(req.params.id)}`,
    );
  });

  router.post(`${CONSOLE_PATH}/inbound/:id/replay`, csrf.verify, async (req, res) => {
    if (!uuid.safeParse(String(req.params.id)).success) throw new HttpError(404, "not_found", `no inbound delivery ${String(req.params.id)}`);
    const result = await admin.replayWebhook(svc, actor, String(req.params.id));
    back(
      req,
      res,
      result.kind === "replayed"
        ? `replayed: ${result.result}${"outcome" in result && result.outcome ? ` (${result.outcome})` : ""}${"reason" in result && result.reason ? ` (${result.reason})` : ""}`
        : `no inbound delivery ${String(req.params.id)}`,
    );
  });

  router.post(`${CONSOLE_PATH}/providers/:provider/resume`, csrf.verify, async (req, res) => {
    const result = await admin.resumeProviderPolling(svc, actor, String(req.params.provider));
    back(
      req,
      res,
      result.kind === "resumed" ? `${String(req.params.provider)} resumed; ${result.rescheduled} items due now` : `no provider ${String(req.params.provider)}`,
    );
  });

  // --- errors: a page, not JSON, for a person at a browser ---------------------------------------------------
  router.use(CONSOLE_PATH, (req, _res, next) => next(new HttpError(404, "not_found", `no console page ${req.path}`)));
  const errorPage: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = err instanceof HttpError ? err : undefined;
    if (!known) req.log.error({ err }, "unhandled error");
    const status = known?.status ?? 500;
    const message = known?.message ?? `internal error (request ${String(req.id)}); the log has the details`;
    // No session is started here: an error page has no buttons, and a 401 must not hand out a cookie.
    res.status(status).set("cache-control", "no-store").set("referrer-policy", "same-origin").set("content-security-policy", CSP);
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

/** `reservation/4711` → a link to that story. */
function entityLink(subject: string) {
  const [entity, id] = subject.split("/", 2) as [string, string | undefined];
  const path = { reservation: "reservations", shipment: "shipments", rental: "rentals" }[entity];
  return path && id ? html`<a href="${CONSOLE_PATH}/${path}/${encodeURIComponent(id)}">${subject}</a>` : html`${subject}`;
}
