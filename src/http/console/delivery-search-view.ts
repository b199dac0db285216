// The console's search over one subscription's deliveries: the form (GET, so a search is a link to share),
// the result table with each row's re-send button, and the link to the next page of the same search.
import type { DeliverySearch, DeliveryView } from "../../services/console.js";
import { cursorOf, DELIVERY_STATUSES, deliverySearchQuery, searchParams } from "../../services/delivery-search.js";
import { html, time } from "./html.js";
import { entityLink } from "./kit.js";
import { badge, type PageContext, resendButton } from "./views.js";

/** datetime-local sends no seconds and no offset: the form says UTC. */
const utc = (v: unknown) => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v) ? `${v.length === 16 ? `${v}:00` : v}Z` : v);
const given = (v: unknown) => (v === "" ? undefined : v);

/**
 * The page's search from its query: the failed deliveries when nothing is asked (`status=all`: every status).
 * A filter that does not parse is left out and named in `problem`, so the page still answers.
 */
export function consoleSearch(query: Record<string, unknown>, limit: number): { search: DeliverySearch; problem?: string } {
  const status = query.status === undefined ? "failed" : query.status === "all" ? undefined : query.status;
  const raw = {
    status,
    since: utc(given(query.since)),
    until: utc(given(query.until)),
    responseStatus: given(query.responseStatus),
    type: given(query.type),
    subject: given(query.subject),
    cursor: given(query.cursor),
    limit,
  };
  const parsed = deliverySearchQuery.safeParse(raw);
  if (parsed.success) return { search: parsed.data };
  const fallback = deliverySearchQuery.safeParse({ status: DELIVERY_STATUSES.includes(status as never) ? status : "failed", limit });
  return { search: fallback.data!, problem: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
}

const local = (d: Date | undefined) => (d ? d.toISOString().slice(0, 16) : "");

export function deliveriesSection(ctx: PageContext, search: DeliverySearch, deliveries: DeliveryView[], problem: string | undefined, limit: number) {
  const last = deliveries.length === limit ? deliveries.at(-1) : undefined;
  const next = searchParams(search);
  if (!search.status) next.set("status", "all");
  if (last) next.set("cursor", cursorOf(last));
  const option = (value: string, label = value) => html`<option value="${value}"${(search.status ?? "all") === value ? html` selected` : ""}>${label}</option>`;
  return html`<h2>Deliveries</h2>
<form method="get" class="delivery-search">
<label>status <select name="status">${option("all", "any")}${DELIVERY_STATUSES.map((s) => option(s))}</select></label>
<label>type <input type="text" name="type" size="18" value="${search.type ?? ""}" placeholder="shipment.*"></label>
<label>subject <input type="text" name="subject" size="22" value="${search.subject ?? ""}" placeholder="reservation/123"></label>
<label>answer <input type="number" name="responseStatus" min="100" max="599" value="${search.responseStatus ?? ""}" placeholder="500"></label>
<label>from (UTC) <input type="datetime-local" name="since" value="${local(search.since)}"></label>
<label>until (UTC) <input type="datetime-local" name="until" value="${local(search.until)}"></label>
<button type="submit">Search</button></form>
${problem ? html`<p class="notice" role="status">filters left out: ${problem}</p>` : ""}
${
  deliveries.length === 0
    ? html`<p class="muted">no ${search.status ?? ""} deliveries${search.before ? " further back" : ""}</p>`
    : html`<table class="deliveries"><tr><th>event</th><th>subject</th><th>created</th><th>status</th><th>attempts</th><th>answer</th>
<th>next attempt</th><th>last error</th><th></th></tr>
${deliveries.map(
  (d) => html`<tr data-delivery="${d.id}" class="row-${d.status}"><td>${d.eventType}</td><td>${entityLink(d.subject)}</td><td>${time(d.createdAt)}</td>
<td>${badge(d.status)}</td><td>${d.attempts}</td><td>${d.lastStatusCode ?? ""}</td>
<td data-next-attempt>${d.status === "pending" && d.nextAttemptAt ? time(d.nextAttemptAt) : ""}</td>
<td data-last-error>${d.status === "succeeded" ? "" : (d.lastError ?? "")}</td>
<td>${resendButton(ctx, d)}</td></tr>`,
)}</table>`
}
${last ? html`<p class="pager"><a href="?${next.toString()}">older →</a></p>` : ""}`;
}
