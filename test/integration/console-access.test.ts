// The console's side of least privilege: signing in with a named token through the form (and out), a
// revoked token's session ending, a viewer's pages without buttons, and the admin's pages for tokens and
// consumers, each through the same audited services as the JSON API.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const bearer = (token: string) => `Bearer ${token}`;

async function newToken(name: string, role: string): Promise<{ id: string; token: string }> {
  const res = await request(ctx.app).post("/admin/tokens").set("authorization", bearer(TEST_ADMIN_TOKEN)).send({ name, role });
  expect(res.status).toBe(201);
  return res.body;
}

/** What a button's redirect announces (its `notice`). */
const notice = (res: request.Response) => new URL(String(res.headers.location), "http://hub.invalid").searchParams.get("notice");

/** Signs in through the form; the sign-in cookie and where it sent the browser. */
async function signIn(token: string, back = "/admin/console/subscriptions") {
  const res = await request(ctx.app).post("/admin/console/sign-in").type("form").send({ token, back });
  expect(res.status).toBe(303);
  const cookie = (res.headers["set-cookie"] as unknown as string[]).find((c) => c.startsWith("hub_console_signin="))!;
  return { cookie: cookie.split(";")[0]!, attributes: cookie, location: res.headers.location };
}

/** A console page read with a sign-in cookie, and `press`: one of its buttons (a form POST returning to it). */
async function pageAs(signInCookie: string, path: string) {
  const res = await request(ctx.app).get(path).set("cookie", signInCookie);
  const session = String(res.headers["set-cookie"] ?? "").split(";")[0]!;
  const cookies = [signInCookie, session].filter(Boolean).join("; ");
  const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1] ?? "";
  const press = (action: string, form: Record<string, string> = {}) =>
    request(ctx.app)
      .post(action)
      .set("cookie", cookies)
      .type("form")
      .send({ _csrf: csrf, back: path, ...form });
  return { res, press };
}

describe("signing in to the console", () => {
  it("answers a browser without a token with the sign-in form, not a Basic prompt; Bull Board keeps its prompt", async () => {
    const none = await request(ctx.app).get("/admin/console/subscriptions?status=failed");
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBeUndefined();
    expect(none.headers["set-cookie"]).toBeUndefined();
    expect(none.text).toContain('<form method="post" action="/admin/console/sign-in" class="sign-in">');
    // The form returns to the page that was asked for.
    expect(none.text).toContain('name="back" value="/admin/console/subscriptions?status=failed"');
    expect((await request(ctx.app).get("/admin/ui")).headers["www-authenticate"]).toMatch(/^Basic/);
  });

  it("takes a named token: a cookie only the hub can read, scoped to /admin, opening the console and Bull Board; sign-out ends it", async () => {
    const { token } = await newToken("form-operator", "operator");
    const signedIn = await signIn(token);
    expect(signedIn.location).toBe("/admin/console/subscriptions");
    expect(signedIn.attributes).toMatch(/HttpOnly/i);
    expect(signedIn.attributes).toMatch(/SameSite=Strict/i);
    expect(signedIn.attributes).toMatch(/Path=\/admin(;|$)/);
    expect(signedIn.attributes).toMatch(/Max-Age=43200/);

    const page = await request(ctx.app).get("/admin/console").set("cookie", signedIn.cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-signed-in="operator"');
    expect(page.text).toContain("form-operator · operator");
    expect(page.text).toContain('action="/admin/console/sign-out"');
    expect((await request(ctx.app).get("/admin/ui").set("cookie", signedIn.cookie)).status).toBe(200);
    // The cookie opens the browser pages only: the JSON API takes bearer tokens.
    expect((await request(ctx.app).get("/subscriptions").set("cookie", signedIn.cookie)).status).toBe(401);

    const out = await request(ctx.app).post("/admin/console/sign-out").set("cookie", signedIn.cookie);
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe("/admin/console/sign-in?out=1");
    expect(String(out.headers["set-cookie"])).toMatch(/hub_console_signin=;.*Expires=Thu, 01 Jan 1970/);
  });

  it("refuses what opens nothing, a consumer's token, another site's form and a way out of the console", async () => {
    const wrong = await request(ctx.app).post("/admin/console/sign-in").type("form").send({ token: "lehub_nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain("mistyped, revoked or expired");
    expect(wrong.headers["set-cookie"]).toBeUndefined();

    const consumer = await request(ctx.app)
      .post("/admin/consumers")
      .set("authorization", bearer(TEST_ADMIN_TOKEN))
      .send({ name: "console-consumer", eventTypes: ["reservation.*"] });
    const asConsumer = await request(ctx.app).post("/admin/console/sign-in").type("form").send({ token: consumer.body.token });
    expect(asConsumer.status).toBe(403);
    expect(asConsumer.headers["set-cookie"]).toBeUndefined();

    const crossSite = await request(ctx.app)
      .post("/admin/console/sign-in")
      .set("origin", "https://evil.example")
      .type("form")
      .send({ token: TEST_ADMIN_TOKEN });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers["set-cookie"]).toBeUndefined();

    expect((await signIn(TEST_ADMIN_TOKEN, "//evil.example/x")).location).toBe("/admin/console");
  });

  it("a revoked token's session ends at its next page: the form says so and the cookie is cleared", async () => {
    const { id, token } = await newToken("form-leaver", "viewer");
    const { cookie } = await signIn(token);
    expect((await request(ctx.app).get("/admin/console").set("cookie", cookie)).status).toBe(200);
    expect((await request(ctx.app).delete(`/admin/tokens/${id}`).set("authorization", bearer(TEST_ADMIN_TOKEN))).status).toBe(200);
    // Within the 1 s look-up cache (services/access.ts); ended once it runs out.
    const ended = await eventually(
      async () => {
        const res = await request(ctx.app).get("/admin/console/subscriptions").set("cookie", cookie);
        return res.status === 401 && res;
      },
      10_000,
      "the session's end",
    );
    expect(ended.text).toContain("Your session has ended");
    expect(String(ended.headers["set-cookie"])).toMatch(/hub_console_signin=;/);
  });
});

describe("a viewer's console", () => {
  it("shows who is signed in, read only, and no button at all", async () => {
    const { token } = await newToken("form-viewer", "viewer");
    const { cookie } = await signIn(token);
    const subs = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", bearer(TEST_ADMIN_TOKEN))
      .send({ url: "http://127.0.0.1:9/viewer-sees", eventTypes: ["reservation.*"] });
    for (const path of ["/admin/console/subscriptions", `/admin/console/subscriptions/${subs.body.id}`, "/admin/console/providers", "/admin/console/inbound"]) {
      const page = await request(ctx.app).get(path).set("cookie", cookie);
      expect(page.status, path).toBe(200);
      expect(page.text, path).toContain("form-viewer · viewer (read only)");
      // The one form left is signing out.
      expect(page.text.match(/method="post"/g), path).toEqual(['method="post"']);
      expect(page.text, path).not.toContain("New subscription");
      expect(page.text, path).not.toContain('href="/admin/console/tokens"');
    }
  });
});

describe("the admin's pages", () => {
  it("are an admin's only: a viewer and an operator get 403", async () => {
    for (const role of ["viewer", "operator"]) {
      const { cookie } = await signIn((await newToken(`not-admin-${role}`, role)).token);
      for (const path of ["/admin/console/tokens", "/admin/console/consumers"]) {
        const res = await request(ctx.app).get(path).set("cookie", cookie);
        expect(res.status, `${role} ${path}`).toBe(403);
        expect(res.text).toContain("admin role");
      }
    }
  });

  it("create a token (shown once, working at once), list it and revoke it; the audit names the admin", async () => {
    const admin = await signIn((await newToken("console-admin", "admin")).token);
    const list = await pageAs(admin.cookie, "/admin/console/tokens");
    expect(list.res.text).toContain('href="/admin/console/tokens"');
    const created = await list.press("/admin/console/tokens", { name: "carol", role: "viewer", expiresInDays: "7" });
    expect(created.status).toBe(200);
    const value = /<pre class="json" data-token>([^<]+)<\/pre>/.exec(created.text)![1]!;
    expect(value).toMatch(/^lehub_/);
    expect((await request(ctx.app).get("/subscriptions").set("authorization", bearer(value))).status).toBe(200);
    const audit = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "token.create" }, orderBy: { id: "desc" } });
    expect(audit.actor).toBe("console-admin (admin) (console)");

    const again = await list.press("/admin/console/tokens", { name: "carol", role: "viewer" });
    expect(again.status).toBe(303);
    expect(notice(again)).toContain("already named carol");

    const listed = await pageAs(admin.cookie, "/admin/console/tokens");
    expect(listed.res.text).not.toContain(value);
    const carol = /data-token-row="([^"]+)"><td>carol</.exec(listed.res.text)![1]!;
    const revoked = await listed.press(`/admin/console/tokens/${carol}/revoke`);
    expect(revoked.status).toBe(303);
    expect(notice(revoked)).toContain("token carol revoked");
    expect(await ctx.prisma.apiToken.findUniqueOrThrow({ where: { id: carol } })).toMatchObject({ revokedBy: "console-admin (admin) (console)" });
  });

  it("create a consumer (its first token shown once), change it, rotate its token and delete it", async () => {
    const admin = await signIn((await newToken("console-admin-2", "admin")).token);
    const list = await pageAs(admin.cookie, "/admin/console/consumers");
    const refused = await list.press("/admin/console/consumers", { name: "notify", eventTypes: "parcel.*" });
    expect(notice(refused)).toContain("unknown event type");

    const created = await list.press("/admin/console/consumers", { name: "notify", eventTypes: "reservation.*" });
    expect(created.status).toBe(200);
    const first = /data-token>([^<]+)</.exec(created.text)![1]!;
    const own = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", bearer(first))
      .send({ url: "http://127.0.0.1:9/notify", eventTypes: ["reservation.*"] });
    expect(own.status).toBe(201);
    const id = /href="\/admin\/console\/consumers\/([^"]+)">Back/.exec(created.text)![1]!;

    const detail = await pageAs(admin.cookie, `/admin/console/consumers/${id}`);
    expect(detail.res.text).toContain("live subscriptions: 1");
    const post = (path: string, form: Record<string, string> = {}) => detail.press(`/admin/console/consumers/${id}${path}`, form);
    expect(notice(await post("/change", { name: "notify", eventTypes: "reservation.*, rental.*" }))).toBe("consumer notify saved");
    expect((await ctx.prisma.consumer.findUniqueOrThrow({ where: { id } })).eventTypes).toEqual(["reservation.*", "rental.*"]);

    const second = /data-token>([^<]+)</.exec((await post("/tokens")).text)![1]!;
    const firstId = (await ctx.prisma.apiToken.findFirstOrThrow({ where: { consumerId: id }, orderBy: { createdAt: "asc" } })).id;
    expect((await post(`/tokens/${firstId}/revoke`)).status).toBe(303);
    expect((await request(ctx.app).get("/subscriptions").set("authorization", bearer(second))).status).toBe(200);

    const deleted = await post("/delete");
    expect(deleted.headers.location).toMatch(/^\/admin\/console\/consumers\?/);
    expect(notice(deleted)).toBe("consumer notify deleted: its tokens stopped, subscriptions disabled: 1");
    expect((await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: own.body.id } })).status).toBe("disabled");
    const actions = await ctx.prisma.auditLog.findMany({ where: { target: id }, orderBy: { id: "asc" } });
    expect(actions.map((a) => a.action)).toEqual(["consumer.create", "consumer.update", "consumer.token-create", "consumer.token-revoke", "consumer.delete"]);
    expect(new Set(actions.map((a) => a.actor))).toEqual(new Set(["console-admin-2 (admin) (console)"]));
  });
});
