// The console's inbound webhooks: failed, rejected and ignored ones, each stored body, and replay.
import type { Router } from "express";
import { z } from "zod";
import * as admin from "../../services/admin.js";
import * as consoleData from "../../services/console.js";
import type { AppDeps } from "../deps.js";
import { HttpError } from "../errors.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { button } from "./views.js";
import { CSP, type ConsoleKit, consoleActor } from "./kit.js";

const PAGE = 50;
const uuid = z.uuid();

export function inboundPages(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  const { page, back, context } = kit;
  const db = deps.db;
  const svc: admin.AdminDeps = { db: deps.db, queues: deps.queues, log: deps.log };
  // --- inbound webhooks ------------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/inbound/:id/body`, async (req, res) => {
    const found = uuid.safeParse(req.params.id).success
      ? await consoleData.storedBody(db, req.params.id, req.principal?.role === "admin")
      : ({ kind: "unknown" } as const);
    if (found.kind === "unknown") throw new HttpError(404, "not_found", `no inbound delivery ${req.params.id}`);
    res.set("cache-control", "no-store").set("content-security-policy", CSP).set("x-content-type-options", "nosniff");
    if (found.kind === "pruned") return res.type("text/plain").send("body pruned (past its retention)");
    res.type(found.json ? "application/json" : "text/plain").send(found.text);
  });

  router.get(`${CONSOLE_PATH}/inbound`, async (req, res) => {
    const status = z.enum(["failed", "rejected", "ignored"]).catch("failed").parse(req.query.status);
    const before = z.iso.datetime({ offset: true }).optional().catch(undefined).parse(req.query.before);
    const { data: rows, nextBefore } = await admin.inboundPage(svc, { status, limit: PAGE, before: before ? new Date(before) : undefined });
    const ctx = context(req, res);
    page(
      req,
      res,
      "Inbound webhooks",
      html`<h2>${["failed", "rejected", "ignored"].map((st) => (st === status ? html`<strong>${st}</strong> ` : html`<a href="?status=${st}">${st}</a> `))}</h2>
${
  status === "ignored"
    ? html`<p class="muted">Signed and stored, but not a reservation status change (another event name, the dashboard's test ping):
answered 202, never applied.</p>`
    : ""
}
${
  rows.length === 0
    ? html`<p class="muted">no ${status} inbound webhooks</p>`
    : html`<table><tr><th>delivery</th><th>received</th><th>reason</th><th>times processed</th><th>body</th><th></th></tr>
${rows.map(
  (r) => html`<tr data-inbound="${r.id}"><td>${r.id}</td><td>${time(r.receivedAt)}</td><td>${r.statusReason ?? ""}</td>
<td>${r.processCount}</td><td><a href="${CONSOLE_PATH}/inbound/${r.id}/body">${r.bodyBytes} bytes</a></td>
<td>${button(ctx, `${CONSOLE_PATH}/inbound/${r.id}/replay`, "Replay")}</td></tr>`,
)}</table>`
}
${nextBefore ? html`<p class="pager"><a href="?status=${status}&before=${nextBefore}">older →</a></p>` : ""}`,
    );
  });

  router.post(`${CONSOLE_PATH}/inbound/:id/replay`, kit.verify, async (req, res) => {
    if (!uuid.safeParse(String(req.params.id)).success) throw new HttpError(404, "not_found", `no inbound delivery ${String(req.params.id)}`);
    const result = await admin.replayWebhook(svc, consoleActor(req), String(req.params.id));
    back(
      req,
      res,
      result.kind === "replayed"
        ? `replayed: ${result.result}${"outcome" in result && result.outcome ? ` (${result.outcome})` : ""}` +
            `${"reason" in result && result.reason ? ` (${result.reason})` : ""}`
        : `no inbound delivery ${String(req.params.id)}`,
    );
  });
}
