// The operator console in a real browser (Debian's chromium driven by puppeteer-core) against the real api,
// worker, Postgres and Redis: log in, find a reservation that went created → final_costs, see its five
// states, watch a subscriber fail, press Re-send once it has recovered, and see the delivery turn green.
// UPDATE_SCREENSHOTS=1 writes the two pictures in docs/console.md.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open, startConsoleBrowser, type ConsoleBrowser } from "../helpers/console-browser.js";
import { eventually } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe } from "../helpers/subscriber.js";

const STATES = ["created", "taken", "driving", "sealed", "final_costs"];
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.join(import.meta.dirname, "../../docs/img") : undefined;

let world: ConsoleBrowser;

beforeAll(async () => {
  world = await startConsoleBrowser({ DELIVERY_RETRY_SCHEDULE: "0,100ms,100ms", DELIVERY_DISABLE_AFTER_FAILURES: "0" });
}, 60_000);
afterAll(() => world?.close());

describe("operator console in a browser", () => {
  it("shows a reservation's five states and re-sends a failed delivery until it is green", async () => {
    const reservation = "4711";
    const subscription = await subscribe(world.ctx.app, world.sub, ["reservation.*"]);
    world.sub.respond = () => ({ status: 503, body: "billing is down" });
    for (const state of STATES) {
      await postFlovi(world.ctx.app, statusChange(state, reservation, state === "final_costs" ? { costs: { total: 120.5, currency: "EUR" } } : {}));
      await eventually(async () => (await world.ctx.prisma.reservation.findUnique({ where: { id: reservation } }))?.state === state, 10_000, state);
    }
    // Every delivery has failed for good (three attempts each): nothing pending is left.
    await eventually(
      async () => (await world.ctx.prisma.webhookDelivery.count({ where: { subscriptionId: subscription.id, status: "failed" } })) === 5,
      20_000,
      "five failed deliveries",
    );
    world.sub.respond = () => ({ status: 204 });

    const page = await world.operatorPage();

    // Log in and search.
    await open(page, `${world.base}/admin/console`);
    await page.type("input[name=q]", reservation);
    await Promise.all([page.waitForNavigation(), page.click("form[role=search] button[type=submit]")]);
    await Promise.all([page.waitForNavigation(), page.click(`a[href="/admin/console/reservations/${reservation}"]`)]);
    const states = await page.$$eval("section.transition", (sections) => sections.map((s) => s.getAttribute("data-state")));
    expect(states).toEqual(STATES);
    expect(await page.$$eval("section.transition tr[data-delivery] .badge", (badges) => badges.map((b) => b.textContent))).toEqual(Array(5).fill("failed"));
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, "console-timeline.png"), fullPage: true });

    // The subscription's failed deliveries, and Re-send on the final_costs one.
    await open(page, `${world.base}/admin/console/subscriptions/${subscription.id}`);
    const failedRows = await page.$$("tr[data-delivery]");
    expect(failedRows).toHaveLength(5);
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, "console-failed-deliveries.png"), fullPage: true });
    const finalCosts = await world.ctx.prisma.webhookDelivery.findFirstOrThrow({
      where: { subscriptionId: subscription.id, event: { type: "reservation.final_costs" } },
    });
    await Promise.all([page.waitForNavigation(), page.click(`tr[data-delivery="${finalCosts.id}"] button`)]);
    expect(await page.$eval(".notice", (n) => n.textContent).catch(async () => `no notice on ${page.url()}: ${(await page.content()).slice(0, 600)}`)).toBe(
      `delivery ${finalCosts.id} delivered (204)`,
    );

    // Back on the timeline, the delivery turns green once the subscriber has it.
    await eventually(
      async () => {
        await open(page, `${world.base}/admin/console/reservations/${reservation}`);
        const badge = await page.$(`tr[data-delivery="${finalCosts.id}"] .badge.status-succeeded`);
        return badge
          ? page.evaluate(
              (el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor,
              badge,
            )
          : null;
      },
      15_000,
      "the re-sent delivery to succeed",
    ).then((colour) => expect(colour).toBe("rgb(201, 240, 211)"));
    expect(world.sub.received.filter((r) => r.event.type === "reservation.final_costs")).toHaveLength(1);
    expect(await world.ctx.prisma.auditLog.count({ where: { action: "delivery.retry", target: finalCosts.id, actor: "admin (console)" } })).toBe(1);

    // The subscription's lane: its backlog and limits, changed through the form.
    await open(page, `${world.base}/admin/console/subscriptions/${subscription.id}`);
    expect(await page.$eval(`tr[data-lane="${subscription.id}"]`, (row) => row.textContent)).toContain("of at most 256");
    await page.select("select[name=ordering]", "subject");
    await page.$eval("input[name=maxInFlight]", (input) => ((input as unknown as { value: string }).value = ""));
    await page.type("input[name=maxInFlight]", "4");
    await page.type("input[name=rateLimitPerSecond]", "10");
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/settings'] button")]);
    expect(await page.$eval(".notice", (n) => n.textContent)).toBe("settings saved");
    expect(await page.$eval(`tr[data-lane="${subscription.id}"]`, (row) => row.textContent)).toContain("of at most 4");
    expect(await world.ctx.prisma.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).toMatchObject({
      ordering: "subject",
      maxInFlight: 4,
      rateLimitPerSecond: 10,
    });
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, "console-subscription-lane.png"), fullPage: true });
    await page.close();
  });

  it("a first day: the landing page says what needs a look; an endpoint is created, tested, disabled and enabled from the console", async () => {
    const receiver = await startSubscriber();
    const page = await world.operatorPage();
    try {
      // GET / takes a browser to the console, whose landing page lists what needs a look.
      await open(page, `${world.base}/`);
      expect(new URL(page.url()).pathname).toBe("/admin/console");
      expect(await page.$$eval("h2", (h) => h.map((e) => e.textContent))).toEqual(["Endpoints that need a look", "Providers", "Last inbound webhooks"]);
      if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, "console-landing.png"), fullPage: true });

      // Create an endpoint: the secret is shown once, on the page that answers.
      await open(page, `${world.base}/admin/console/subscriptions`);
      await page.click("details summary");
      await page.type("input[name=url]", receiver.url);
      await page.type("input[name=eventTypes]", "reservation.*, shipment.delivered");
      await Promise.all([page.waitForNavigation(), page.click("form[action='/admin/console/subscriptions'] button")]);
      const secret = await page.$eval("pre[data-secret]", (p) => p.textContent ?? "");
      expect(secret).toMatch(/^whsec_/);
      receiver.secrets.push(secret);
      const created = await world.ctx.prisma.subscription.findFirstOrThrow({ where: { url: receiver.url } });
      expect(created.eventTypes).toEqual(["reservation.*", "shipment.delivered"]);

      // Send a test: the receiver verifies it with that secret; the notice says what the endpoint answered.
      await open(page, `${world.base}/admin/console/subscriptions/${created.id}`);
      await Promise.all([page.waitForNavigation(), page.click(`form[action$='/subscriptions/${created.id}/test'] button`)]);
      expect(await page.$eval(".notice", (n) => n.textContent)).toMatch(/^test event delivered: the endpoint answered 204 in \d+ ms/);
      expect(receiver.received.map((r) => r.event.type)).toEqual(["hub.test"]);
      if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, "console-subscription-test.png"), fullPage: true });

      // Disable, then enable again.
      await Promise.all([page.waitForNavigation(), page.click(`form[action$='/subscriptions/${created.id}/disable'] button`)]);
      expect(await page.$eval(".notice", (n) => n.textContent)).toBe("subscription disabled");
      expect((await world.ctx.prisma.subscription.findUniqueOrThrow({ where: { id: created.id } })).status).toBe("disabled");
      await Promise.all([page.waitForNavigation(), page.click(`form[action$='/subscriptions/${created.id}/enable'] button`)]);
      expect((await world.ctx.prisma.subscription.findUniqueOrThrow({ where: { id: created.id } })).status).toBe("active");
      const actions = (await world.ctx.prisma.auditLog.findMany({ where: { target: created.id }, orderBy: { id: "asc" } })).map(
        (a) => `${a.actor} ${a.action}`,
      );
      expect(actions).toEqual([
        "admin (console) subscription.create",
        "admin (console) subscription.test",
        "admin (console) subscription.disable",
        "admin (console) subscription.enable",
      ]);
    } finally {
      await page.close();
      await receiver.close();
    }
  });
});
