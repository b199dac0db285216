// The console's providers page: polling state and pauses, and resume.
import { consoleActor } from "./kit.js";
import type { Router } from "express";
import * as admin from "../../services/admin.js";
import type { AppDeps } from "../deps.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { badge, button } from "./views.js";
import type { ConsoleKit } from "./kit.js";

export function providerPages(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  const { page, back, context } = kit;
  const svc: admin.AdminDeps = { db: deps.db, queues: deps.queues, log: deps.log };
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
  (p) => html`<tr data-provider="${p.provider}"><td>${p.provider === "mfb" ? "MyFlyingBox" : "GreenFlow"}</td>
<td>${p.enabled ? badge("active") : html`${badge("disabled")} <span class="muted">${p.why}</span>`}</td>
<td>${p.paused ? time(p.pausedUntil) : html`<span class="muted">not paused</span>`}</td><td>${p.pauseReason ?? ""}</td>
<td>${p.paused ? button(ctx, `${CONSOLE_PATH}/providers/${p.provider}/resume`, "Resume") : ""}</td></tr>`,
)}</table>`,
    );
  });

  router.post(`${CONSOLE_PATH}/providers/:provider/resume`, kit.verify, async (req, res) => {
    const result = await admin.resumeProviderPolling(svc, consoleActor(req), String(req.params.provider));
    back(
      req,
      res,
      result.kind === "resumed" ? `${String(req.params.provider)} resumed; ${result.rescheduled} items due now` : `no provider ${String(req.params.provider)}`,
    );
  });
}
