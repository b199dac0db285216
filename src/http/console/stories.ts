// One entity's story on the console: a reservation, a shipment or a rental, every state with its deliveries.
import type { Router } from "express";
import { z } from "zod";
import * as consoleData from "../../services/console.js";
import { greenflowBookingView, mfbOrderView } from "../../services/tracking.js";
import type { AppDeps } from "../deps.js";
import { HttpError } from "../errors.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { badge, deliveriesTable, prettyBody, type PageContext } from "./views.js";
import type { ConsoleKit } from "./kit.js";

/** What a payload warning's fallback means, in words (docs/events.md). */
const FALLBACK_WORDS: Record<string, string> = { receipt_time: "the receipt time was used", null: "left empty", kept: "kept as sent", ignored: "ignored" };
const uuid = z.uuid();

type Story = NonNullable<Awaited<ReturnType<typeof consoleData.reservationStory>>>;
type Inbound = NonNullable<Story["transitions"][number]["inbound"]>;

/** What the reservation's heading adds when it applies: cancelled, no longer looked up, final costs overdue. */
function storyNotes(r: Story["reservation"]) {
  return html`${r.cancellationReason ? html` · cancelled: ${r.cancellationReason}` : ""}${
    r.reconcileStoppedReason ? html` · not looked up: ${r.reconcileStoppedReason}` : ""
  }${
    r.finalCostsOverdueAt && r.state === "sealed"
      ? html` · <strong data-overdue>final costs overdue</strong>
(flagged ${time(r.finalCostsOverdueAt)})`
      : ""
  }`;
}

/** A side field of the delivery that could not be used as sent, and the fallback applied. */
function warningItem(w: Inbound["warnings"][number]) {
  return html`<li data-warning="${w.field}:${w.problem}">⚠ ${w.field}: ${w.problem.replaceAll("_", " ")} → ${FALLBACK_WORDS[w.fallback] ?? w.fallback}
<span class="muted">(sent: <code>${w.raw}</code>)</span></li>`;
}

/** The stored delivery behind a transition, its body pretty-printed and redacted. */
function storedDelivery(ctx: PageContext, inbound: Inbound) {
  const status = `${inbound.status}${inbound.statusReason ? `: ${inbound.statusReason}` : ""}`;
  return html`<details><summary>stored delivery ${inbound.id} (${status})</summary>
${prettyBody(ctx, inbound.rawBody, `${CONSOLE_PATH}/inbound/${inbound.id}/body`)}</details>`;
}

export function storyPages(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  const { page, context } = kit;
  const db = deps.db;
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
      html`<p>state ${badge(r.state)} · external id ${r.externalId ?? "—"} · last change ${time(r.lastChangedAt)}${storyNotes(r)}</p>
<h2>Timeline (${story.transitions.length} reports)</h2>
${story.transitions.map(
  (t) => html`<section class="transition${t.outcome === "applied" ? "" : " quiet"}" data-state="${t.toState}" data-outcome="${t.outcome}">
<strong>${t.fromState ?? "∅"} → ${t.toState}</strong> ${badge(t.outcome)}
<span class="muted">via ${t.source} · occurred ${time(t.occurredAt)} · received ${time(t.receivedAt)}</span>
${t.inbound && t.inbound.warnings.length > 0 ? html`<ul class="warnings">${t.inbound.warnings.map(warningItem)}</ul>` : ""}
${t.inbound ? storedDelivery(ctx, t.inbound) : ""}
${
  t.emitted
    ? html`<p>event <code>${t.emitted.event.type}</code> <span class="muted">${t.emitted.event.id}</span></p>
${deliveriesTable(ctx, t.emitted.deliveries, story.subscriptionUrls)}`
    : html`<p class="muted">no event (${t.outcome})</p>`
}
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
        html`<p>status ${badge(view.status ?? "none")} · polling ${view.polling.active ? "active" : `stopped (${view.polling.stoppedReason ?? ""})`}
· last poll ${time(view.polling.lastPolledAt)}${view.polling.lastError ? html` · <span class="error">${view.polling.lastError}</span>` : ""}</p>
<h2>Timeline (${story.events.length} events, via poll)</h2>
${story.events.map(
  ({ event, deliveries }) => html`<section class="transition" data-type="${event.type}"><strong>${event.type}</strong>
<span class="muted">${time(new Date(event.time))} · ${event.id}</span>
<details><summary>event</summary><pre class="json">${JSON.stringify(event.data, null, 2)}</pre></details>
${deliveriesTable(ctx, deliveries, story.subscriptionUrls)}</section>`,
)}`,
      );
    });
  }
}
