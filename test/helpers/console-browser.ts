// The console in a real browser for tests: Debian's chromium driven by puppeteer-core, against a test
// context's app served on 127.0.0.1 (with its worker running), and a verifying subscriber.
import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { expect } from "vitest";
import { createTestContext, TEST_ADMIN_TOKEN, type TestContext, type TestEnv } from "./context.js";
import { startSubscriber, type Subscriber } from "./subscriber.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface ConsoleBrowser {
  ctx: TestContext;
  /** The app's base URL, `http://127.0.0.1:<port>`. */
  base: string;
  browser: Browser;
  sub: Subscriber;
  /** A new page, 1280×900, signed in through the console's form with ADMIN_TOKEN. */
  operatorPage(): Promise<Page>;
  /** A new page, 1280×900, signed in through the console's form with this token. */
  signedInPage(token: string): Promise<Page>;
  close(): Promise<void>;
}

export async function startConsoleBrowser(env: TestEnv): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const ctx = await createTestContext(env);
  await ctx.startWorker();
  const server = http.createServer(ctx.app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const sub = await startSubscriber();
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signedInPage = async (token: string) => {
    // Each page its own browser context: its own cookies, so two pages can be two people.
    const page = await (await browser.createBrowserContext()).newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await signIn(page, `${base}/admin/console`, token);
    return page;
  };
  return {
    ctx,
    base,
    browser,
    sub,
    operatorPage: () => signedInPage(TEST_ADMIN_TOKEN),
    signedInPage,
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      await sub.close();
      await ctx.close();
    },
  };
}

/** Goes to `url` and expects a 200. */
export async function open(page: Page, url: string): Promise<void> {
  const res = await page.goto(url, { waitUntil: "domcontentloaded" });
  expect(res?.status()).toBe(200);
}

/** Opens `url`, which answers with the sign-in form, and signs in with `token`; the form returns to `url`. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  const first = await page.goto(url, { waitUntil: "domcontentloaded" });
  expect(first?.status()).toBe(401);
  await page.type('input[name="token"]', token);
  await Promise.all([page.waitForNavigation({ waitUntil: "domcontentloaded" }), page.click("form.sign-in button")]);
  expect(await page.$("form.sign-in")).toBeNull();
}
