// Least privilege in a real browser (Debian's chromium) against the real api and worker: a person signs in
// to the console with a named token through its form, a viewer sees no button, an admin makes a token on the
// Tokens page (shown once, and it opens the console), and a revoked token's open session ends at its next page.
import type { Page } from "puppeteer-core";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { open, signIn, startConsoleBrowser, type ConsoleBrowser } from "../helpers/console-browser.js";
import { eventually, TEST_ADMIN_TOKEN } from "../helpers/context.js";

let world: ConsoleBrowser;
beforeAll(async () => {
  world = await startConsoleBrowser({});
}, 60_000);
afterAll(() => world?.close());

const text = (page: Page, selector: string) => page.$eval(selector, (el) => (el.textContent ?? "").replace(/\s+/g, " ").trim());

async function newToken(name: string, role: string): Promise<{ id: string; token: string }> {
  const res = await request(world.ctx.app).post("/admin/tokens").set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`).send({ name, role });
  expect(res.status).toBe(201);
  return res.body;
}

describe("the console's sign-in in a browser", () => {
  it("a viewer signs in with its named token, reads, and is offered no button", async () => {
    const { token } = await newToken("browser-viewer", "viewer");
    const page = await world.signedInPage(token);
    try {
      await open(page, `${world.base}/admin/console/subscriptions`);
      expect(await text(page, "[data-signed-in]")).toContain("browser-viewer · viewer (read only)");
      expect(await page.$$eval("form[method=post]", (forms) => forms.map((f) => f.getAttribute("action")))).toEqual(["/admin/console/sign-out"]);
      expect(await page.$('a[href="/admin/console/tokens"]')).toBeNull();
    } finally {
      await page.browserContext().close();
    }
  });

  it("an admin makes a token on the Tokens page; it is shown once and opens the console; revoked, its session ends", async () => {
    const admin = await world.signedInPage((await newToken("browser-admin", "admin")).token);
    let operator: Page | undefined;
    try {
      await open(admin, `${world.base}/admin/console/tokens`);
      await admin.type('input[name="name"]', "dora");
      await admin.select('select[name="role"]', "operator");
      await Promise.all([admin.waitForNavigation({ waitUntil: "domcontentloaded" }), admin.click('form[action="/admin/console/tokens"] button')]);
      const value = await text(admin, "pre[data-token]");
      expect(value).toMatch(/^lehub_/);

      // Dora signs in with it in her own browser context; her pages offer an operator's buttons.
      operator = await (await world.browser.createBrowserContext()).newPage();
      await signIn(operator, `${world.base}/admin/console/subscriptions`, value);
      expect(operator.url()).toBe(`${world.base}/admin/console/subscriptions`);
      expect(await text(operator, "[data-signed-in]")).toContain("dora · operator");
      expect(await operator.$('form[action="/admin/console/subscriptions"]')).not.toBeNull();

      // The admin revokes it on the Tokens page.
      await open(admin, `${world.base}/admin/console/tokens`);
      const row = await admin.$$eval("tr[data-token-row]", (rows) =>
        rows.find((r) => r.querySelector("td")?.textContent === "dora")?.getAttribute("data-token-row"),
      );
      await Promise.all([admin.waitForNavigation({ waitUntil: "domcontentloaded" }), admin.click(`form[action="/admin/console/tokens/${row}/revoke"] button`)]);
      expect(await text(admin, "p.notice")).toBe("token dora revoked");

      // Dora's next page (after the 1 s look-up cache) is the sign-in form, saying why.
      const ended = await eventually(
        async () => {
          const res = await operator!.goto(`${world.base}/admin/console/subscriptions`, { waitUntil: "domcontentloaded" });
          return res?.status() === 401;
        },
        10_000,
        "the revoked session's end",
      );
      expect(ended).toBe(true);
      expect(await text(operator, "[data-sign-in]")).toContain("Your session has ended");
      expect((await operator.cookies()).map((c) => c.name)).not.toContain("hub_console_signin");
    } finally {
      await operator?.browserContext().close();
      await admin.browserContext().close();
    }
  });
});
