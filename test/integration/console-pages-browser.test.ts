// The console's everyday views in a real browser (Debian's chromium), against the real api, worker, Postgres
// and Redis: a pending delivery says when its next attempt is and what went wrong in one phrase; "Send now"
// shows what became of the attempt; the landing page counts failures and retries with numbers, zeros
// included; the search box shows its whole hint; Bull Board loads nothing from the internet and links back to
// the console where it can be seen.
import type { Page } from "puppeteer-core";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open, startConsoleBrowser, type ConsoleBrowser } from "../helpers/console-browser.js";
import { eventually, TEST_ADMIN_TOKEN } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { subscribe } from "../helpers/subscriber.js";

let world: ConsoleBrowser;

beforeAll(async () => {
  // A failed first attempt waits an hour for the next one: it stays pending, with a time to show.
  world = await startConsoleBrowser({ DELIVERY_RETRY_SCHEDULE: "0,1h", DELIVERY_DISABLE_AFTER_FAILURES: "0", DELIVERY_CIRCUIT_AFTER_FAILURES: "0" });
}, 60_000);
afterAll(() => world?.close());

const text = (page: Page, selector: string) => page.$eval(selector, (el) => (el.textContent ?? "").replace(/\s+/g, " ").trim());

describe("console pages in a browser", () => {
  it("a pending delivery shows its next attempt and its error once; Send now shows the attempt's outcome; the landing counts it", async () => {
    const subscription = await subscribe(world.ctx.app, world.sub, ["reservation.*"]);
    await request(world.ctx.app)
      .patch(`/subscriptions/${subscription.id}`)
      .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
      .send({ ordering: "subject" })
      .expect(200);
    world.sub.respond = () => ({ status: 500, body: "billing is down" });
    await postFlovi(world.ctx.app, statusChange("created", "5150"));
    await postFlovi(world.ctx.app, statusChange("taken", "5150"));
    // The first event failed once and waits an hour; the second is held behind it (ordered mode).
    const first = await eventually(
      async () => world.ctx.prisma.webhookDelivery.findFirst({ where: { subscriptionId: subscription.id, status: "pending", attempts: 1 } }),
      10_000,
      "a failed first attempt",
    );
    await eventually(
      async () => (await world.ctx.prisma.webhookDelivery.count({ where: { subscriptionId: subscription.id, status: "held" } })) === 1,
      10_000,
      "held",
    );

    const page = await world.operatorPage();
    try {
      await open(page, `${world.base}/admin/console/subscriptions/${subscription.id}?status=pending`);
      const row = `tr[data-delivery="${first.id}"]`;
      expect(await text(page, `${row} td[data-last-error]`)).toBe("HTTP 500");
      const next = await page.$eval(`${row} td[data-next-attempt] time`, (t) => t.getAttribute("datetime") ?? "");
      expect(new Date(next).getTime()).toBeCloseTo(first.nextAttemptAt!.getTime(), -4);
      expect(await text(page, `tr[data-lane="${subscription.id}"]`)).toContain("1 delivery of 1 subject");

      // The landing page: the endpoint needs a look; no failure in 24 h reads 0, the retrying delivery is counted.
      await open(page, `${world.base}/admin/console`);
      const attention = `tr[data-attention="${subscription.id}"]`;
      expect(await text(page, `${attention} td[data-failed-day]`)).toBe("0");
      expect(await text(page, `${attention} td[data-retrying]`)).toBe("1");

      // The subscriber recovers; Send now answers with what the attempt did, and the pending list no longer has it.
      world.sub.respond = () => ({ status: 204 });
      await open(page, `${world.base}/admin/console/subscriptions/${subscription.id}?status=pending`);
      await Promise.all([page.waitForNavigation(), page.click(`${row} button`)]);
      expect(await text(page, ".notice")).toBe(`delivery ${first.id} delivered (204)`);
      await open(page, `${world.base}/admin/console/subscriptions/${subscription.id}?status=pending`);
      expect(await page.$(row)).toBeNull();
    } finally {
      await page.close();
    }
  });

  it("the search box shows its whole hint", async () => {
    const page = await world.operatorPage();
    try {
      await open(page, `${world.base}/admin/console`);
      const fit = await page.$eval("input[name=q]", (input) => {
        const el = input as unknown as { placeholder: string; clientWidth: number };
        const style = (globalThis as unknown as { getComputedStyle(e: unknown): Record<string, string> }).getComputedStyle(input) as Record<string, string>;
        const doc = (
          globalThis as unknown as {
            document: { createElement(t: string): { getContext(c: string): { font: string; measureText(t: string): { width: number } } } };
          }
        ).document;
        const canvas = doc.createElement("canvas").getContext("2d");
        canvas.font = `${style.fontSize ?? ""} ${style.fontFamily ?? ""}`;
        return {
          text: canvas.measureText(el.placeholder).width,
          room: el.clientWidth - parseFloat(style.paddingLeft ?? "0") - parseFloat(style.paddingRight ?? "0"),
        };
      });
      expect(fit.text).toBeLessThanOrEqual(fit.room);
    } finally {
      await page.close();
    }
  });

  it("Bull Board loads nothing from the internet and shows the link back to the console in plain sight", async () => {
    const page = await world.operatorPage();
    const origins = new Set<string>();
    page.on("request", (r) => origins.add(new URL(r.url()).origin));
    try {
      await open(page, `${world.base}/admin/ui`);
      await page.waitForSelector("#hub-console-link", { visible: true });
      // Let the board's own scripts render (and ask for whatever they would).
      await page.waitForNetworkIdle({ idleTime: 300, timeout: 10_000 });
      expect([...origins].filter((o) => o !== world.base && !o.startsWith("data:"))).toEqual([]);
      // Visible, in the top bar, and not covered by anything of the board's.
      const box = (await (await page.$("#hub-console-link"))!.boundingBox())!;
      expect(box.y).toBeLessThan(60);
      const onTop = await page.evaluate(
        (x, y) =>
          (globalThis as unknown as { document: { elementFromPoint(x: number, y: number): { id: string } | null } }).document.elementFromPoint(x, y)?.id,
        box.x + box.width / 2,
        box.y + box.height / 2,
      );
      expect(onTop).toBe("hub-console-link");
      await Promise.all([page.waitForNavigation(), page.click("#hub-console-link")]);
      expect(new URL(page.url()).pathname).toBe("/admin/console");
    } finally {
      await page.close();
    }
  });
});
