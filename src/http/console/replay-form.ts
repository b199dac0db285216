// The console's replay by time on a subscription's page (docs/delivery.md, "Replaying a window"): a form for
// the window (UTC) and its narrowing, the latest replays with their progress, and the form's handler.
import type { Router } from "express";
import type { AppDeps } from "../deps.js";
import { type latestReplays, replayInput, replaySettings, requestReplay } from "../../services/replays.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { badge, button, type PageContext } from "./views.js";
import { consoleActor, type ConsoleKit } from "./kit.js";

type Replays = Awaited<ReturnType<typeof latestReplays>>;

export function replaySection(ctx: PageContext, subscriptionId: string, replays: Replays, since: string) {
  return html`<h2>Replay</h2><p>Deliver again every stored event of a window (when the hub wrote it, UTC) that this endpoint takes, in log
order, each with its own <code>webhook-id</code> and a <code>hub-replay</code> header:</p>
${button(
  ctx,
  `${CONSOLE_PATH}/subscriptions/${subscriptionId}/replay`,
  "Replay window",
  html`<label>since <input type="datetime-local" name="since" value="${since}" required></label>
<label>until <input type="datetime-local" name="until"></label>
<label>subject <input type="text" name="subject" size="24" placeholder="reservation/123"></label>
<label>types <input type="text" name="types" size="24" placeholder="shipment.exception, rental.*"></label> `,
)}
${
  replays.length > 0
    ? html`<table class="replays"><tr><th>replay</th><th>window</th><th>narrowed to</th><th>events</th><th>deliveries</th><th>by</th></tr>
${replays.map(
  (r) => html`<tr data-replay="${r.id}"><td>${r.id}<br>${time(r.createdAt)}</td><td>${time(r.since)} – ${time(r.until)}</td>
<td>${[r.subject, ...r.types].filter(Boolean).join(", ") || html`<span class="muted">everything</span>`}</td><td>${r.events}${r.written < r.events && !r.done ? html`<br><span class="muted">${r.written} written</span>` : ""}</td>
<td>${Object.entries(r.deliveries).map(([status, n]) => html`${badge(status)} ${n} `)}${r.done ? "" : html`<span class="muted">under way</span>`}</td>
<td>${r.requestedBy}</td></tr>`,
)}</table>`
    : ""
}`;
}

const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);

/** A datetime-local value (no offset) read as UTC; anything else as typed, for the schema to name. */
function utc(v: unknown): string | undefined {
  const t = text(v);
  if (!t || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(t)) return t;
  return `${t.length === 16 ? `${t}:00` : t}Z`;
}

export function replayRoutes(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  router.post(`${CONSOLE_PATH}/subscriptions/:id/replay`, kit.verify, async (req, res) => {
    // datetime-local sends no offset: the form says UTC. Empty fields are left out; types are a list.
    const form = (req.body ?? {}) as Record<string, unknown>;
    const parsed = replayInput.safeParse({
      since: utc(form.since),
      until: utc(form.until),
      subject: text(form.subject),
      types: text(form.types)
        ?.split(/[\s,]+/)
        .filter(Boolean),
    });
    if (!parsed.success) return kit.back(req, res, `not replayed: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const id = String(req.params.id);
    const result = await requestReplay({ db: deps.db, log: deps.log, ...replaySettings(deps.config) }, consoleActor(req), id, parsed.data);
    const notice =
      result.kind === "replaying"
        ? `replay ${result.id} started: ${result.events} event(s) to be delivered again`
        : result.kind === "past_retention"
          ? `events are kept ${Math.round(deps.config.RETENTION_EVENTS_MS / 86_400_000)} days: since may be ${result.earliest.toISOString()} at the earliest`
          : result.kind === "subscription_inactive"
            ? "enable the subscription first"
            : `no subscription ${id}`;
    kit.back(req, res, notice);
  });
}
