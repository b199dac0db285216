// The console's endpoint management: create, send a test, disable and enable, rotate the secret, delete.
// Every button calls the same audited service as the JSON API and the CLI (actor "<token name> (console)": kit.ts `consoleActor`). A new
// secret is shown once, on the page that answers the button, never in a URL.
import { consoleActor } from "./kit.js";
import type { Request, Response, Router } from "express";
import { z } from "zod";
import * as subscriptions from "../../services/subscriptions.js";
import { subscriptionInput } from "../../services/subscriptions.js";
import { sendTestEvent } from "../../services/test-event.js";
import type { RouteDeps } from "../deps.js";
import { CONSOLE_PATH } from "./csrf.js";
import type { ConsoleKit } from "./kit.js";
import { html } from "./html.js";
import { maskUrl } from "../../lib/text.js";

const uuid = z.uuid();

export function manageRoutes(router: Router, deps: RouteDeps, kit: ConsoleKit): void {
  const svc = deps.subscriptionService;
  const id = (req: Request) => String(req.params.id);
  const known = (req: Request) => uuid.safeParse(id(req)).success;
  const secretPage = (req: Request, res: Response, title: string, subscriptionId: string, secret: string, note: string) =>
    kit.page(
      req,
      res,
      title,
      html`<p>Give this secret to the receiver: it verifies every delivery with it (any Standard Webhooks library). It is shown <strong>once</strong>.</p>
<pre class="json" data-secret>${secret}</pre><p class="muted">${note}</p>
<p><a href="${CONSOLE_PATH}/subscriptions/${subscriptionId}">Back to the subscription</a></p>`,
    );

  router.post(`${CONSOLE_PATH}/subscriptions`, kit.verify, async (req, res) => {
    const form = (req.body ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
    const parsed = subscriptionInput.safeParse({
      url: text(form.url),
      eventTypes: text(form.eventTypes)
        ?.split(/[\s,]+/)
        .filter(Boolean),
      ...(text(form.description) ? { description: text(form.description) } : {}),
      ...(text(form.ordering) ? { ordering: text(form.ordering) } : {}),
    });
    if (!parsed.success) return kit.back(req, res, `not created: ${parsed.error.issues.map((i) => `${i.path.join(".") || "form"}: ${i.message}`).join("; ")}`);
    const result = await subscriptions.create(svc, consoleActor(req), parsed.data);
    if (result.kind === "invalid_target") return kit.back(req, res, `not created: ${result.reason}`);
    if (result.kind === "duplicate")
      return kit.back(
        req,
        res,
        `not created: subscription ${result.existing.id} already sends ${result.existing.eventTypes.join(", ")} to this URL; change that one instead`,
      );
    secretPage(
      req,
      res,
      `Subscription created: ${maskUrl(result.subscription.url)}`,
      result.subscription.id,
      result.subscription.secret,
      `id ${result.subscription.id}; event types ${result.subscription.eventTypes.join(", ")}.`,
    );
  });

  router.post(`${CONSOLE_PATH}/subscriptions/:id/test`, kit.verify, async (req, res) => {
    const outcome = known(req) ? await sendTestEvent({ ...svc, timeoutMs: deps.config.DELIVERY_TIMEOUT_MS }, consoleActor(req), id(req)) : null;
    if (!outcome) return kit.back(req, res, `no subscription ${id(req)}`);
    const said = outcome.statusCode !== null ? `answered ${outcome.statusCode}` : `did not answer (${outcome.error})`;
    kit.back(
      req,
      res,
      `test event ${outcome.delivered ? "delivered" : "NOT delivered"}: the endpoint ${said} in ${outcome.durationMs} ms` +
        `${outcome.excerpt ? ` · ${outcome.excerpt.slice(0, 120)}` : ""}`,
    );
  });

  for (const [action, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    router.post(`${CONSOLE_PATH}/subscriptions/:id/${action}`, kit.verify, async (req, res) => {
      const updated = known(req) ? await subscriptions.setEnabled(svc, consoleActor(req), id(req), enabled) : null;
      kit.back(req, res, updated ? `subscription ${action}d` : `no subscription ${id(req)}`);
    });
  }

  router.post(`${CONSOLE_PATH}/subscriptions/:id/rotate-secret`, kit.verify, async (req, res) => {
    const rotated = known(req) ? await subscriptions.rotate(svc, consoleActor(req), id(req), deps.config.SECRET_ROTATION_GRACE_MS) : null;
    if (!rotated) return kit.back(req, res, `no subscription ${id(req)}`);
    secretPage(
      req,
      res,
      "New secret",
      id(req),
      rotated.secret,
      `Deliveries are signed with the previous secret too until ${rotated.subscription.previousSecretExpiresAt?.toISOString()}, ` +
        "so the receiver can switch without losing any.",
    );
  });

  router.post(`${CONSOLE_PATH}/subscriptions/:id/delete`, kit.verify, async (req, res) => {
    const removed = known(req) && (await subscriptions.remove(svc, consoleActor(req), id(req)));
    req.body = { ...req.body, back: `${CONSOLE_PATH}/subscriptions` };
    kit.back(req, res, removed ? "subscription deleted; its waiting deliveries are cancelled" : `no subscription ${id(req)}`);
  });
}
