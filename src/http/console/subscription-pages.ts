// The console's subscriptions: the paginated overview, one endpoint's page, and its buttons (re-send,
// settings, recover).
import type { Router } from "express";
import { z } from "zod";
import * as admin from "../../services/admin.js";
import * as consoleData from "../../services/console.js";
import * as subscriptions from "../../services/subscriptions.js";
import { subscriptionChange } from "../../services/subscriptions.js";
import type { AppDeps } from "../deps.js";
import { HttpError } from "../errors.js";
import { maskUrl, plural } from "../../lib/text.js";
import { MAX_IN_FLIGHT, RATE_LIMIT } from "../../domain/subscription-limits.js";
import { maskHeaders } from "../../domain/static-headers.js";
import { CONSOLE_PATH } from "./csrf.js";
import { OVERVIEW_COUNT_CAP } from "../../services/console.js";
import { html, time } from "./html.js";
import { badge, button, canChange } from "./views.js";
import { consoleSearch, deliveriesSection } from "./delivery-search-view.js";
import { keysetCursor } from "../../services/delivery-search.js";
import type { ConsoleKit } from "./kit.js";
import { backPath, consoleActor } from "./kit.js";
import { replaySection } from "./replay-form.js";
import { latestReplays } from "../../services/replays.js";
import type { BrokerOptions } from "../../domain/destinations.js";

const PAGE = 50;
/** How long "Send now" waits for the attempt's outcome before showing the page again. */
const SEND_NOW_WAIT_MS = 5_000;
const uuid = z.uuid();

export function subscriptionPages(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  const { page, back, context } = kit;
  const db = deps.db;
  const svc: admin.AdminDeps = { db: deps.db, queues: deps.queues, log: deps.log };
  // --- subscriptions ---------------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/subscriptions`, async (req, res) => {
    const after = keysetCursor.optional().catch(undefined).parse(req.query.after);
    const { rows, next } = await consoleData.subscriptionsPage(db, { limit: PAGE, after });
    const ctx = context(req, res);
    page(
      req,
      res,
      "Subscriptions",
      html`${
        canChange(ctx)
          ? html`<details${rows.length === 0 ? html` open` : ""}><summary>New subscription</summary>
${button(
  ctx,
  `${CONSOLE_PATH}/subscriptions`,
  "Create",
  html`<label>URL <input type="url" name="url" size="40" required placeholder="https://receiver.example.com/hooks"></label>
<label>event types <input type="text" name="eventTypes" size="30" required placeholder="reservation.*, shipment.delivered"></label>
<label>description <input type="text" name="description" size="20"></label>
<label>ordering <select name="ordering"><option value="none">none</option><option value="subject">subject</option></select></label> `,
)}</details>`
          : ""
      }
<table><tr><th>destination</th><th>status</th><th>failure run</th><th>last success</th><th>deliveries</th></tr>
${rows.map(
  (
    s,
  ) => html`<tr data-subscription="${s.id}"><td>${s.kind === "http" ? "" : html`<span class="muted">${s.kind}</span> `}<a href="${CONSOLE_PATH}/subscriptions/${s.id}">${s.url}</a></td>
<td>${badge(s.status)}${s.disabledReason ? html`<br><span class="muted">${s.disabledReason}</span>` : ""}</td>
<td>${s.consecutiveFailures > 0 ? html`${s.consecutiveFailures} failed since ${time(s.failingSince)}` : html`<span class="muted">none</span>`}</td>
<td>${time(s.lastSuccessAt)}</td>
<td>${Object.entries(s.counts).map(([status, n]) => html`${badge(status)} ${capped(n)} `)}
${badge("succeeded")} <span class="muted">24 h</span> ${capped(s.succeededLastDay)}</td></tr>`,
)}</table>${next ? html`<p><a rel="next" href="${CONSOLE_PATH}/subscriptions?after=${next}">next ${PAGE}</a></p>` : ""}`,
    );
  });

  router.get(`${CONSOLE_PATH}/subscriptions/:id`, async (req, res) => {
    const { search, problem } = consoleSearch(req.query, PAGE);
    const found = uuid.safeParse(req.params.id).success ? await consoleData.subscriptionFailures(db, req.params.id, search) : null;
    if (!found) throw new HttpError(404, "not_found", `no subscription ${req.params.id}`);
    const { subscription: s, deliveries, lane } = found;
    const replays = await latestReplays(db, s.id);
    const ctx = context(req, res);
    const since = new Date(Date.now() - 24 * 3600_000).toISOString().slice(0, 16);
    page(
      req,
      res,
      `Subscription ${maskUrl(s.url)}`,
      html`<p>${badge(s.status)} · ${s.eventTypes.join(", ")}
· failure run ${s.consecutiveFailures}${s.failingSince ? html` since ${time(s.failingSince)}` : ""}</p>
${s.description ? html`<p class="muted">${s.description}</p>` : ""}
<p data-destination="${s.destination?.type ?? "http"}">Destination <strong>${destinationText(s)}</strong></p>
<h2>Delivery lane</h2>
<table class="lane"><tr><th>in flight</th><th>waiting</th><th>retrying</th><th>held back (ordered mode)</th><th>paused</th></tr>
<tr data-lane="${s.id}"><td>${lane.inFlight} of at most ${s.maxInFlight}</td><td>${lane.waiting}</td><td>${lane.retrying}</td>
<td>${
        lane.held > 0
          ? html`${plural(lane.held, "delivery", "deliveries")} of ${plural(lane.heldSubjects, "subject")}, since ${time(lane.heldSince)}`
          : html`<span class="muted">none</span>`
      }</td>
<td>${lane.pausedUntil ? html`until ${time(lane.pausedUntil)} <span class="muted">${lane.pauseReason ?? ""}</span>` : html`<span class="muted">no</span>`}</td>
</tr></table>
<p>Ordering <strong>${s.ordering === "subject" ? "per subject (one event of a subject at a time, in log order)" : "none"}</strong>
· at most ${s.maxInFlight} in flight · ${s.rateLimitPerSecond === null ? "no rate limit" : html`at most ${s.rateLimitPerSecond} per second`}</p>
${button(
  ctx,
  `${CONSOLE_PATH}/subscriptions/${s.id}/settings`,
  "Save settings",
  html`<label>event types <input type="text" name="eventTypes" size="40" value="${s.eventTypes.join(", ")}" required></label>
<label>description <input type="text" name="description" size="30" value="${s.description ?? ""}"></label><br>
<label>ordering <select name="ordering"><option value="none"${s.ordering === "none" ? html` selected` : ""}>none</option>
<option value="subject"${s.ordering === "subject" ? html` selected` : ""}>subject</option></select></label>
<label>max in flight <input type="number" name="maxInFlight" min="${MAX_IN_FLIGHT.min}" max="${MAX_IN_FLIGHT.max}" step="1" value="${s.maxInFlight}" required></label>
<label>requests per second
<input type="number" name="rateLimitPerSecond" min="${RATE_LIMIT.min}" max="${RATE_LIMIT.max}" step="any" value="${s.rateLimitPerSecond ?? ""}" placeholder="no limit"></label> `,
)}
${s.filters.length > 0 ? html`<p class="filters">Only the events that match <code>${JSON.stringify(s.filters)}</code> (docs/delivery.md, "Filters")</p>` : ""}
<h2>Endpoint</h2>
${
  Object.keys(s.headers).length > 0
    ? html`<p class="headers">Sent with every request: ${Object.entries(maskHeaders(s.headers)).map(([name, masked]) => html`<code>${name}: ${masked}</code> `)}</p>`
    : ""
}
<p>${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/test`, "Send test event")} ${
        s.status === "active"
          ? button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/disable`, "Disable")
          : button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/enable`, "Enable")
      } ${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/rotate-secret`, "Rotate secret")}
${button(ctx, `${CONSOLE_PATH}/subscriptions/${s.id}/delete`, "Delete")}</p>
<p class="muted">The test sends a signed <code>hub.test</code> to this endpoint only. Rotating shows the new secret once;
deliveries are signed with the old one too for SECRET_ROTATION_GRACE_MS.</p>
<h2>Recover</h2><p>Re-send every failed delivery created since a time (UTC), and optionally send the ones waiting for their next attempt now:</p>
${button(
  ctx,
  `${CONSOLE_PATH}/subscriptions/${s.id}/recover`,
  "Recover since…",
  html`<input type="datetime-local" name="since" value="${since}" required>
<label><input type="checkbox" name="includePending" value="yes"> also send waiting ones now</label> `,
)}
${replaySection(ctx, s.id, replays, since)}
${deliveriesSection(ctx, search, deliveries, problem, PAGE)}`,
    );
  });

  router.post(`${CONSOLE_PATH}/deliveries/:id/resend`, kit.verify, async (req, res) => {
    const id = String(req.params.id);
    if (!uuid.safeParse(id).success) throw new HttpError(404, "not_found", `no delivery ${id}`);
    const result = await admin.retryDelivery(svc, consoleActor(req), id, { force: req.body?.force === "1" });
    // Already delivered: a second request, confirmed on a page of its own, sends it again.
    if (result.kind === "already_delivered") {
      const ctx = { ...kit.context(req, res), back: backPath(req.body?.back) };
      kit.page(
        req,
        res,
        "Send again?",
        html`<p>Delivery ${id} was delivered ${result.deliveredAt ? html`at ${time(result.deliveredAt)}` : ""}. Sending it again posts the same
event (the same <code>webhook-id</code>) to the subscriber once more.</p>
<p>${button(ctx, `${CONSOLE_PATH}/deliveries/${id}/resend`, "Send again", html`<input type="hidden" name="force" value="1">`)}
<a href="${ctx.back}">Cancel</a></p>`,
      );
      return;
    }
    const queued = async (r: Extract<typeof result, { kind: "queued" }>) => {
      if (r.outcome === "behind")
        return `delivery ${id} waits behind delivery ${r.behind ?? "?"} of its subject (ordered mode); it goes out right after that one`;
      if (r.outcome === "paused") return `delivery ${id} goes out when the subscriber's pause ends (${r.pausedUntil?.toISOString() ?? "?"})`;
      // Sent now: wait a moment for the attempt, so the page shows what became of it rather than "pending".
      const after = await admin.awaitNextAttempt(svc, id, r.attemptsBefore, SEND_NOW_WAIT_MS);
      if (!after) return `delivery ${id} is being sent now; its outcome is not in yet (refresh in a moment)`;
      if (after.status === "succeeded") return `delivery ${id} delivered (${after.lastStatusCode ?? "ok"})`;
      const why = after.lastError ?? (after.lastStatusCode ? `HTTP ${after.lastStatusCode}` : "no answer");
      return after.status === "pending" && after.nextAttemptAt
        ? `delivery ${id} was sent and failed (${why}); next attempt at ${after.nextAttemptAt.toISOString()}`
        : `delivery ${id} was sent and failed (${why}); it is now ${after.status}`;
    };
    const notice =
      result.kind === "queued"
        ? await queued(result)
        : {
            not_found: `no delivery ${id}`,
            in_progress: "an attempt of this delivery is under way",
            held: "held behind an earlier event of its subject (ordered mode); it goes out right after that one",
            subscription_inactive: "enable the subscription first",
          }[result.kind];
    back(req, res, notice);
  });

  router.post(`${CONSOLE_PATH}/subscriptions/:id/settings`, kit.verify, async (req, res) => {
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
    const updated = await subscriptions.change({ db, log: deps.log }, consoleActor(req), id, parsed.data);
    back(req, res, updated ? "settings saved" : `no subscription ${id}`);
  });

  router.post(`${CONSOLE_PATH}/subscriptions/:id/recover`, kit.verify, async (req, res) => {
    // datetime-local sends no offset: the form says UTC.
    const since = z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/)
      .safeParse(req.body?.since);
    if (!since.success) return back(req, res, "give a date and time to recover from");
    const result = await admin.recoverSubscription(svc, consoleActor(req), String(req.params.id), new Date(`${since.data}Z`), {
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
}

/** An overview count: past the cap it reads "10,000+" (the statement stops counting there). */
const capped = (n: number) => (n > OVERVIEW_COUNT_CAP ? `${OVERVIEW_COUNT_CAP.toLocaleString("en")}+` : String(n));

/** Where a subscription delivers, in words: the endpoint, or the broker (credentials masked) and its exchange or subject. */
function destinationText(s: { url: string; destination: BrokerOptions | null }): string {
  const where = maskUrl(s.url);
  if (!s.destination) return `HTTP endpoint ${where}`;
  if (s.destination.type === "rabbitmq") return `RabbitMQ ${where}, exchange "${s.destination.exchange}", routing key ${s.destination.routingKey}`;
  return `NATS JetStream ${where}, subject ${s.destination.subject}`;
}
