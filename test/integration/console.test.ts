// The operator console over HTTP: who may see it, and what its buttons refuse (the browser test walks it).
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";

let ctx: TestContext;
const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
});
afterAll(() => ctx.close());

/** A console page's session cookie and the form token it carries. */
async function session(path = "/admin/console") {
  const res = await request(ctx.app).get(path).set("authorization", basic);
  expect(res.status).toBe(200);
  const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
  const token = /<meta name="console-token" content="([^"]+)">/.exec(res.text)?.[1];
  return { cookie, token, res };
}

describe("operator console", () => {
  it("asks a browser for a token (its sign-in form; Basic is taken when sent) and refuses a wrong one", async () => {
    const none = await request(ctx.app).get("/admin/console");
    expect(none.status).toBe(401);
    expect(none.text).toContain('action="/admin/console/sign-in"');
    const wrong = await request(ctx.app)
      .get("/admin/console")
      .set("authorization", `Basic ${Buffer.from("admin:nope").toString("base64")}`);
    expect(wrong.status).toBe(401);
    const ok = await request(ctx.app).get("/admin/console").set("authorization", basic);
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toMatch(/text\/html/);
    expect(ok.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(ok.headers["set-cookie"]?.[0]).toMatch(/HttpOnly; SameSite=Strict/i);
    // What a person sees: a page, and no session cookie.
    expect(none.headers["content-type"]).toMatch(/text\/html/);
    expect(none.headers["set-cookie"]).toBeUndefined();
    expect(none.headers["set-cookie"]).toBeUndefined();
  });

  it("answers a wrong address with an HTML page that escapes what was asked, not with JSON", async () => {
    const missing = await request(ctx.app)
      .get(`/admin/console/reservations/${encodeURIComponent("<i>nope</i>")}`)
      .set("authorization", basic);
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toMatch(/text\/html/);
    expect(missing.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(missing.text).toContain("no reservation &lt;i&gt;nope&lt;/i&gt;");
    expect(missing.text).toContain('<a href="/admin/console">Search</a>');
    const noPage = await request(ctx.app).get("/admin/console/reservation/4711").set("authorization", basic);
    expect(noPage.status).toBe(404);
    expect(noPage.text).toContain("no console page /reservation/4711");
    const badId = await request(ctx.app).get("/admin/console/shipments/not-a-uuid").set("authorization", basic);
    expect([badId.status, badId.headers["content-type"]]).toEqual([404, expect.stringMatching(/text\/html/)]);
    // The JSON API outside the console keeps answering JSON.
    const api = await request(ctx.app).get("/admin/nothing-here").set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`);
    expect(api.headers["content-type"]).toMatch(/json/);
  });

  it("finds a reservation by id and by Flovi's external id, escaping what it shows", async () => {
    await postFlovi(ctx.app, statusChange("created", "c-1001", { external_id: "<b>EXT-1001</b>" }));
    await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id: "c-1001" } }))?.externalId, 10_000, "stored");
    for (const q of ["c-1001", "<b>EXT-1001</b>"]) {
      const res = await request(ctx.app)
        .get(`/admin/console?q=${encodeURIComponent(q)}`)
        .set("authorization", basic);
      expect(res.text).toContain('href="/admin/console/reservations/c-1001"');
      expect(res.text).toContain("&lt;b&gt;EXT-1001&lt;/b&gt;");
      expect(res.text).not.toContain("<b>EXT-1001</b>");
    }
    const page = await request(ctx.app).get("/admin/console/reservations/c-1001").set("authorization", basic);
    expect(page.text).toContain('data-state="created"');
  });

  it("a button without the session's token, or from another origin, changes nothing", async () => {
    await postFlovi(ctx.app, statusChange("created", "c-1002"));
    const inbound = await eventually(
      () => ctx.prisma.inboundDelivery.findFirst({ where: { orderingKey: "c-1002", status: "processed" } }),
      10_000,
      "processed",
    );
    const { cookie, token } = await session();
    expect(token).toBeTruthy();
    const audits = () => ctx.prisma.auditLog.count({ where: { action: "webhook.replay", target: inbound.id } });

    const noToken = await request(ctx.app)
      .post(`/admin/console/inbound/${inbound.id}/replay`)
      .set("authorization", basic)
      .set("cookie", cookie)
      .type("form")
      .send({ back: "/admin/console" });
    expect(noToken.status).toBe(403);
    const otherSession = await request(ctx.app)
      .post(`/admin/console/inbound/${inbound.id}/replay`)
      .set("authorization", basic)
      .set("cookie", `hub_console_session=${"A".repeat(43)}`)
      .type("form")
      .send({ _csrf: token });
    expect(otherSession.status).toBe(403);
    const crossSite = await request(ctx.app)
      .post(`/admin/console/inbound/${inbound.id}/replay`)
      .set("authorization", basic)
      .set("cookie", cookie)
      .set("origin", "https://evil.example")
      .type("form")
      .send({ _csrf: token });
    expect(crossSite.status).toBe(403);
    expect(await audits()).toBe(0);

    const ok = await request(ctx.app)
      .post(`/admin/console/inbound/${inbound.id}/replay`)
      .set("authorization", basic)
      .set("cookie", cookie)
      .type("form")
      .send({ _csrf: token, back: "/admin/console/inbound" });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toMatch(/^\/admin\/console\/inbound\?notice=replayed/);
    expect(await audits()).toBe(1);
    // Where a button returns is always the console itself.
    const away = await request(ctx.app)
      .post(`/admin/console/inbound/${inbound.id}/replay`)
      .set("authorization", basic)
      .set("cookie", cookie)
      .type("form")
      .send({ _csrf: token, back: "https://evil.example/" });
    expect(away.headers.location).toMatch(/^\/admin\/console\?notice=/);
  });

  it("refuses what the JSON API refuses: an unknown provider, a malformed id, a recovery without a time", async () => {
    const { cookie, token } = await session("/admin/console/providers");
    const notice = (res: { headers: Record<string, string> }) => new URL(res.headers.location!, "http://console").searchParams.get("notice");
    const post = (path: string, body: Record<string, string> = {}) =>
      request(ctx.app)
        .post(path)
        .set("authorization", basic)
        .set("cookie", cookie)
        .type("form")
        .send({ _csrf: token!, ...body });
    const unknown = await post("/admin/console/providers/nope/resume");
    expect(unknown.status, unknown.text).toBe(303);
    expect(notice(unknown)).toBe("no provider nope");
    expect((await post("/admin/console/deliveries/not-a-uuid/resend")).status).toBe(404);
    const sub = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
      .send({ url: "http://127.0.0.1:9/hook", eventTypes: ["*"] });
    const missing = await post(`/admin/console/subscriptions/${sub.body.id}/recover`, { since: "yesterday" });
    expect(notice(missing)).toMatch(/^give a date/);
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.recover" } })).toBe(0);
    expect(notice(await post("/admin/console/providers/mfb/resume"))).toMatch(/^mfb resumed/);
    expect(await ctx.prisma.auditLog.count({ where: { action: "provider.resume", actor: "admin (console)" } })).toBe(1);
  });

  it("pages a subscription's failed deliveries with a keyset cursor", async () => {
    const sub = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
      .send({ url: "http://127.0.0.1:9/paged", eventTypes: ["*"] });
    const rows = Array.from({ length: 60 }, (_, i) => ({ i }));
    // 60 failed deliveries, created a millisecond apart, each for its own event.
    await ctx.prisma.$transaction(async (tx) => {
      for (const { i } of rows) {
        const eventId = crypto.randomUUID();
        await tx.event.create({
          data: {
            id: eventId,
            source: "test",
            type: "reservation.created",
            subject: `reservation/p-${i}`,
            entity: "reservation",
            entityId: `p-${i}`,
            sequence: 1,
            time: new Date(),
            dedupeKey: `p-${i}`,
            envelope: {},
          },
        });
        await tx.webhookDelivery.create({
          data: { id: crypto.randomUUID(), eventId, subscriptionId: sub.body.id, status: "failed", createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)) },
        });
      }
    });
    const first = await request(ctx.app).get(`/admin/console/subscriptions/${sub.body.id}`).set("authorization", basic);
    const ids = (text: string) => [...text.matchAll(/<tr data-delivery="([^"]+)"/g)].map((m) => m[1]);
    expect(ids(first.text)).toHaveLength(50);
    const next = /href="(\?status=failed&(?:amp;)?cursor=[^"]+)"/.exec(first.text)![1]!.replace(/&amp;/g, "&");
    const second = await request(ctx.app).get(`/admin/console/subscriptions/${sub.body.id}${next}`).set("authorization", basic);
    expect(ids(second.text)).toHaveLength(10);
    expect(new Set([...ids(first.text), ...ids(second.text)]).size).toBe(60);
  });

  it("shows a subscription's lane (in flight, waiting, held back, limits) and saves its limits through the same validation", async () => {
    const sub = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
      .send({ url: "http://127.0.0.1:9/lane", eventTypes: ["rental.*"], ordering: "subject" });
    const { cookie, token, res } = await session(`/admin/console/subscriptions/${sub.body.id}`);
    expect(res.text).toContain(`data-lane="${sub.body.id}"`);
    expect(res.text).toContain("0 of at most 256");
    expect(res.text).toMatch(/Ordering <strong>per subject/);
    const post = (body: Record<string, string>) =>
      request(ctx.app)
        .post(`/admin/console/subscriptions/${sub.body.id}/settings`)
        .set("authorization", basic)
        .set("cookie", cookie)
        .type("form")
        .send({ _csrf: token!, back: `/admin/console/subscriptions/${sub.body.id}`, ...body });
    const notice = (r: { headers: Record<string, string> }) => new URL(r.headers.location!, "http://console").searchParams.get("notice");
    expect(notice(await post({ ordering: "none", maxInFlight: "4", rateLimitPerSecond: "2.5" }))).toBe("settings saved");
    expect(await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: sub.body.id } })).toMatchObject({
      ordering: "none",
      maxInFlight: 4,
      rateLimitPerSecond: 2.5,
    });
    expect(notice(await post({ ordering: "none", maxInFlight: "0", rateLimitPerSecond: "" }))).toMatch(/^not saved: maxInFlight/);
    expect(notice(await post({ ordering: "none", maxInFlight: "4", rateLimitPerSecond: "" }))).toBe("settings saved");
    expect((await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: sub.body.id } })).rateLimitPerSecond).toBeNull();
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.update", target: sub.body.id, actor: "admin (console)" } })).toBe(2);
    const page = await request(ctx.app).get(`/admin/console/subscriptions/${sub.body.id}`).set("authorization", basic);
    expect(page.text).toContain("0 of at most 4");
    expect(page.text).toContain("no rate limit");
  });
});
