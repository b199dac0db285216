// The console's access pages (admins only: domain/access.ts): operators' tokens and consumers, with the same
// audited services as /admin/tokens, /admin/consumers and the CLI. A new token's value is shown once, on the
// page that answers the button, never in a URL.
import type { Request, Response, Router } from "express";
import type { z } from "zod";
import * as consumers from "../../services/consumers.js";
import * as tokens from "../../services/tokens.js";
import type { AppDeps } from "../deps.js";
import { HttpError } from "../errors.js";
import { CONSOLE_PATH } from "./csrf.js";
import { html, time } from "./html.js";
import { consoleActor, type ConsoleKit } from "./kit.js";
import { badge, button } from "./views.js";

type TokenView = ReturnType<typeof tokens.tokenView>;

const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
const list = (v: unknown) =>
  text(v)
    ?.split(/[\s,]+/)
    .filter(Boolean);
const days = (v: unknown) => (text(v) === undefined ? undefined : Number(text(v)));
const problems = (error: z.ZodError) => error.issues.map((i) => `${i.path.join(".") || "form"}: ${i.message}`).join("; ");

export function accessPages(router: Router, deps: AppDeps, kit: ConsoleKit): void {
  const svc = { db: deps.db, log: deps.log };
  const shownOnce = (req: Request, res: Response, title: string, value: string, backTo: string) =>
    kit.page(
      req,
      res,
      title,
      html`<p>Hand this token over now, through a secret store: it is shown <strong>once</strong>; only its hash is kept.</p>
<pre class="json" data-token>${value}</pre><p><a href="${backTo}">Back</a></p>`,
    );
  const tokenRows = (ctx: ReturnType<ConsoleKit["context"]>, rows: TokenView[], revokeAt: (t: TokenView) => string) =>
    html`<table class="tokens"><tr><th>name</th><th>role</th><th>starts with</th><th>created</th><th>expires</th><th>last used</th><th>state</th><th></th></tr>
${rows.map(
  (t) => html`<tr data-token-row="${t.id}"><td>${t.name}</td><td>${t.role}</td><td><code>${t.prefix}…</code></td>
<td>${time(new Date(t.createdAt))} <span class="muted">by ${t.createdBy}</span></td><td>${t.expiresAt ? time(new Date(t.expiresAt)) : html`<span class="muted">never</span>`}</td>
<td>${t.lastUsedAt ? time(new Date(t.lastUsedAt)) : html`<span class="muted">never</span>`}</td>
<td>${t.revokedAt ? html`${badge("disabled")} revoked ${time(new Date(t.revokedAt))} <span class="muted">by ${t.revokedBy}</span>` : badge("active")}</td>
<td>${t.revokedAt ? "" : button(ctx, revokeAt(t), "Revoke")}</td></tr>`,
)}</table>`;

  // --- operators' tokens ----------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/tokens`, async (req, res) => {
    const rows = await tokens.listTokens(svc);
    const ctx = kit.context(req, res);
    kit.page(
      req,
      res,
      "Tokens",
      html`<p class="muted">Operators' tokens: a viewer reads, an operator also changes, an admin also manages tokens and consumers.
A revoked token stops working on every api process within a second.</p>
${button(
  ctx,
  `${CONSOLE_PATH}/tokens`,
  "Create token",
  html`<label>name <input type="text" name="name" size="20" required placeholder="alice"></label>
<label>role <select name="role"><option value="viewer">viewer</option><option value="operator">operator</option><option value="admin">admin</option></select></label>
<label>expires in days <input type="number" name="expiresInDays" min="1" max="3650" placeholder="never"></label> `,
)}${tokenRows(ctx, rows, (t) => `${CONSOLE_PATH}/tokens/${t.id}/revoke`)}`,
    );
  });

  router.post(`${CONSOLE_PATH}/tokens`, kit.verify, async (req, res) => {
    const parsed = tokens.newTokenInput.safeParse({ name: text(req.body.name), role: text(req.body.role), expiresInDays: days(req.body.expiresInDays) });
    if (!parsed.success) return kit.back(req, res, `not created: ${problems(parsed.error)}`);
    try {
      const created = await tokens.createToken(svc, consoleActor(req), parsed.data);
      shownOnce(req, res, `Token ${created.name} (${created.role}) created`, created.token, `${CONSOLE_PATH}/tokens`);
    } catch (error) {
      if (!(error instanceof tokens.TokenNameTaken)) throw error;
      kit.back(req, res, `not created: a live token is already named ${parsed.data.name}; revoke it first or pick another name`);
    }
  });

  router.post(`${CONSOLE_PATH}/tokens/:id/revoke`, kit.verify, async (req, res) => {
    const revoked = await tokens.revokeToken(svc, consoleActor(req), String(req.params.id));
    kit.back(req, res, revoked ? `token ${revoked.name} revoked` : "no live token with that id");
  });

  // --- consumers ------------------------------------------------------------------------------------------
  router.get(`${CONSOLE_PATH}/consumers`, async (req, res) => {
    const rows = await consumers.listAll(svc);
    const ctx = kit.context(req, res);
    kit.page(
      req,
      res,
      "Consumers",
      html`<p class="muted">Downstream services with their own tokens: each manages its own subscriptions, within its event types,
and reads the event log of those types. Deleting one stops its tokens and disables its subscriptions (kept for the record).</p>
${button(
  ctx,
  `${CONSOLE_PATH}/consumers`,
  "Create consumer",
  html`<label>name <input type="text" name="name" size="20" required placeholder="billing"></label>
<label>event types <input type="text" name="eventTypes" size="30" required placeholder="reservation.*"></label> `,
)}<table class="consumers"><tr><th>name</th><th>event types</th><th>live tokens</th><th>subscriptions</th><th>created</th></tr>
${rows.map(
  (
    c,
  ) => html`<tr data-consumer="${c.id}"><td><a href="${CONSOLE_PATH}/consumers/${c.id}">${c.name}</a>${c.deletedAt ? html` ${badge("disabled")} deleted` : ""}</td>
<td>${c.eventTypes.join(", ")}</td><td>${c.tokens}</td><td>${c.subscriptions}</td><td>${time(new Date(c.createdAt))} <span class="muted">by ${c.createdBy}</span></td></tr>`,
)}</table>`,
    );
  });

  router.post(`${CONSOLE_PATH}/consumers`, kit.verify, async (req, res) => {
    const parsed = consumers.newConsumerInput.safeParse({ name: text(req.body.name), eventTypes: list(req.body.eventTypes) });
    if (!parsed.success) return kit.back(req, res, `not created: ${problems(parsed.error)}`);
    try {
      const created = await consumers.createConsumer(svc, consoleActor(req), parsed.data);
      shownOnce(req, res, `Consumer ${created.name} created: its first token`, created.token, `${CONSOLE_PATH}/consumers/${created.id}`);
    } catch (error) {
      if (!(error instanceof consumers.ConsumerNameTaken)) throw error;
      kit.back(req, res, `not created: a consumer is already named ${parsed.data.name}`);
    }
  });

  router.get(`${CONSOLE_PATH}/consumers/:id`, async (req, res) => {
    const id = String(req.params.id);
    const consumer = (await consumers.listAll(svc)).find((c) => c.id === id);
    if (!consumer) throw new HttpError(404, "not_found", `no consumer ${id}`);
    const ctx = kit.context(req, res);
    const live = !consumer.deletedAt;
    kit.page(
      req,
      res,
      `Consumer ${consumer.name}`,
      html`<p>${live ? badge("active") : html`${badge("disabled")} deleted ${time(new Date(consumer.deletedAt!))} by ${consumer.deletedBy}`}
· event types ${consumer.eventTypes.join(", ")} · live subscriptions: ${consumer.subscriptions}</p>
${
  live
    ? html`${button(
        ctx,
        `${CONSOLE_PATH}/consumers/${id}/change`,
        "Save",
        html`<label>name <input type="text" name="name" size="20" value="${consumer.name}" required></label>
<label>event types <input type="text" name="eventTypes" size="30" value="${consumer.eventTypes.join(", ")}" required></label> `,
      )}
<h2>Tokens</h2><p>${button(ctx, `${CONSOLE_PATH}/consumers/${id}/tokens`, "New token")}
<span class="muted">Rotation: make a new token, switch the service to it, revoke the old one.</span></p>`
    : html`<h2>Tokens</h2>`
}
${tokenRows(ctx, await consumers.consumerTokens(svc, id), (t) => `${CONSOLE_PATH}/consumers/${id}/tokens/${t.id}/revoke`)}
${live ? html`<h2>Delete</h2><p>${button(ctx, `${CONSOLE_PATH}/consumers/${id}/delete`, "Delete consumer")}</p>` : ""}`,
    );
  });

  router.post(`${CONSOLE_PATH}/consumers/:id/change`, kit.verify, async (req, res) => {
    const parsed = consumers.consumerChange.safeParse({ name: text(req.body.name), eventTypes: list(req.body.eventTypes) });
    if (!parsed.success) return kit.back(req, res, `not changed: ${problems(parsed.error)}`);
    try {
      const changed = await consumers.changeConsumer(svc, consoleActor(req), String(req.params.id), parsed.data);
      kit.back(req, res, changed ? `consumer ${changed.name} saved` : "no live consumer with that id");
    } catch (error) {
      if (!(error instanceof consumers.ConsumerNameTaken)) throw error;
      kit.back(req, res, `not changed: a consumer is already named ${parsed.data.name}`);
    }
  });

  router.post(`${CONSOLE_PATH}/consumers/:id/tokens`, kit.verify, async (req, res) => {
    const id = String(req.params.id);
    const token = await consumers.addConsumerToken(svc, consoleActor(req), id, {});
    if (!token) return kit.back(req, res, "no live consumer with that id");
    shownOnce(req, res, `New token for ${token.name}`, token.token, `${CONSOLE_PATH}/consumers/${id}`);
  });

  router.post(`${CONSOLE_PATH}/consumers/:id/tokens/:tokenId/revoke`, kit.verify, async (req, res) => {
    const revoked = await consumers.revokeConsumerToken(svc, consoleActor(req), String(req.params.id), String(req.params.tokenId));
    kit.back(req, res, revoked ? `token ${revoked.prefix}… revoked` : "no live token with that id for that consumer");
  });

  router.post(`${CONSOLE_PATH}/consumers/:id/delete`, kit.verify, async (req, res) => {
    const removed = await consumers.removeConsumer(svc, consoleActor(req), String(req.params.id));
    req.body = { ...req.body, back: `${CONSOLE_PATH}/consumers` };
    kit.back(
      req,
      res,
      removed
        ? `consumer ${removed.name} deleted: its tokens stopped, subscriptions disabled: ${removed.disabledSubscriptions.length}`
        : "no live consumer with that id",
    );
  });
}
