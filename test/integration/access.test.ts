// Least privilege for operators: named tokens with roles (viewer, operator, admin) beside ADMIN_TOKEN, over
// every route of the OpenAPI document, the console, revocation across api processes, the audit's actor.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { poolOf } from "../../src/db/clients.js";
import { createAuthenticator, TOKEN_CACHE_MS } from "../../src/services/access.js";
import { createTestContext, eventually, redisEnvFor, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { manualClock } from "../helpers/manual-clock.js";
import { runHub } from "../helpers/cli.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const bearer = (token: string) => `Bearer ${token}`;

async function newConsumer(name: string, eventTypes: string[]): Promise<{ id: string; token: string }> {
  const res = await request(ctx.app).post("/admin/consumers").set("authorization", bearer(TEST_ADMIN_TOKEN)).send({ name, eventTypes });
  expect(res.status).toBe(201);
  return res.body;
}

async function newToken(name: string, role: string, app = ctx.app): Promise<{ id: string; token: string }> {
  const res = await request(app).post("/admin/tokens").set("authorization", bearer(TEST_ADMIN_TOKEN)).send({ name, role });
  expect(res.status).toBe(201);
  return res.body;
}

describe("named tokens", () => {
  it("an admin creates one: its value is shown once, recognisable, never stored; the list shows its last use", async () => {
    const res = await request(ctx.app)
      .post("/admin/tokens")
      .set("authorization", bearer(TEST_ADMIN_TOKEN))
      .send({ name: "alice", role: "viewer", expiresInDays: 30 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "alice", role: "viewer", lastUsedAt: null, revokedAt: null, createdBy: "admin" });
    expect(res.body.token).toMatch(/^lehub_[A-Za-z0-9_-]{43}$/);
    expect(res.body.prefix).toBe(res.body.token.slice(0, 12));
    expect(new Date(res.body.expiresAt).getTime() - new Date(res.body.createdAt).getTime()).toBe(30 * 86_400_000);

    expect((await request(ctx.app).get("/subscriptions").set("authorization", bearer(res.body.token))).status).toBe(200);
    // Last uses are written in batches (at shutdown at the latest): the drain writes them now.
    await ctx.app.locals.drain();
    const listed = await request(ctx.app).get("/admin/tokens").set("authorization", bearer(TEST_ADMIN_TOKEN));
    const alice = listed.body.data.find((t: { id: string }) => t.id === res.body.id);
    expect(alice.lastUsedAt).not.toBeNull();
    expect(alice).not.toHaveProperty("token");
    expect(JSON.stringify(listed.body)).not.toContain(res.body.token);

    // Nowhere in the database: every row of every table, read as text.
    const tables = await poolOf(ctx.db).query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'");
    for (const { name } of tables.rows) {
      const found = await poolOf(ctx.db).query(`SELECT 1 FROM "${name}" t WHERE t::text LIKE $1 LIMIT 1`, [`%${res.body.token.slice(6)}%`]);
      expect(found.rowCount, name).toBe(0);
    }
  });

  it("refuses a second live token of one name, bad roles and bad expiries, naming the problem", async () => {
    await newToken("bob", "operator");
    const twice = await request(ctx.app).post("/admin/tokens").set("authorization", bearer(TEST_ADMIN_TOKEN)).send({ name: "BOB", role: "viewer" });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toBe("token_name_taken");
    const role = await request(ctx.app).post("/admin/tokens").set("authorization", bearer(TEST_ADMIN_TOKEN)).send({ name: "carol", role: "root" });
    expect(role.status).toBe(400);
    expect(role.body.message).toContain("role");
    const days = await request(ctx.app)
      .post("/admin/tokens")
      .set("authorization", bearer(TEST_ADMIN_TOKEN))
      .send({ name: "carol", role: "viewer", expiresInDays: 0 });
    expect(days.status).toBe(400);
    expect(days.body.message).toContain("expiresInDays");
  });

  it("every route of the OpenAPI document answers each role as documented", async () => {
    const viewer = await newToken("matrix-viewer", "viewer");
    const operator = await newToken("matrix-operator", "operator");
    const admin = await newToken("matrix-admin", "admin");
    const consumer = await newConsumer("matrix-consumer", ["reservation.*"]);
    // What a consumer's token may call (docs/security.md): its own subscriptions and the event log.
    const consumerRoutes = new Set([
      "GET /subscriptions",
      "POST /subscriptions",
      "GET /subscriptions/{id}",
      "PATCH /subscriptions/{id}",
      "DELETE /subscriptions/{id}",
      "POST /subscriptions/{id}/test",
      "POST /subscriptions/{id}/rotate-secret",
      "POST /subscriptions/{id}/enable",
      "POST /subscriptions/{id}/disable",
      "POST /subscriptions/{id}/recover",
      "GET /subscriptions/{id}/deliveries",
      "POST /subscriptions/{id}/deliveries/{deliveryId}/retry",
      "POST /subscriptions/{id}/replay",
      "GET /subscriptions/{id}/replays/{replayId}",
      "GET /events",
      "GET /snapshot/{kind}",
    ]);
    const document = (await request(ctx.app).get("/openapi.json")).body as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const someId = "00000000-0000-4000-8000-00000000abcd";
    const seen: string[] = [];
    for (const [template, operations] of Object.entries(document.paths)) {
      const url = template.replace(/\{[^}]+\}/g, someId);
      for (const [method, operation] of Object.entries(operations)) {
        // Bearer-token routes (the Flovi ingress has its own signature).
        if (!operation.security?.some((scheme) => typeof scheme === "object" && scheme !== null && "bearer" in scheme)) continue;
        const call = (token?: string) => {
          const req = request(ctx.app)[method as "get" | "post" | "patch" | "delete"](url);
          if (token) req.set("authorization", bearer(token));
          return method === "get" || method === "delete" ? req : req.send({});
        };
        const label = `${method.toUpperCase()} ${template}`;
        seen.push(label);
        const tokensRoute = template.startsWith("/admin/tokens") || template.startsWith("/admin/consumers");
        const read = method === "get";
        expect((await call()).status, `${label} without a token`).toBe(401);
        const asViewer = await call(viewer.token);
        if (read && !tokensRoute) expect([401, 403], `${label} as viewer`).not.toContain(asViewer.status);
        else expect(asViewer.status, `${label} as viewer`).toBe(403);
        const asOperator = await call(operator.token);
        if (tokensRoute) expect(asOperator.status, `${label} as operator`).toBe(403);
        else expect([401, 403], `${label} as operator`).not.toContain(asOperator.status);
        expect([401, 403], `${label} as admin`).not.toContain((await call(admin.token)).status);
        expect([401, 403], `${label} with ADMIN_TOKEN`).not.toContain((await call(TEST_ADMIN_TOKEN)).status);
        const asConsumer = await call(consumer.token);
        if (consumerRoutes.has(label)) expect([401, 403], `${label} as a consumer`).not.toContain(asConsumer.status);
        else expect(asConsumer.status, `${label} as a consumer`).toBe(403);
      }
    }
    expect(seen).toEqual(expect.arrayContaining([...consumerRoutes]));
    expect(seen).toEqual(
      expect.arrayContaining(["GET /subscriptions", "POST /subscriptions", "POST /admin/tokens", "DELETE /admin/tokens/{id}", "GET /events"]),
    );
    const forbidden = await request(ctx.app).post("/subscriptions").set("authorization", bearer(viewer.token)).send({});
    expect(forbidden.body).toMatchObject({ error: "forbidden" });
    expect(forbidden.body.message).toContain("operator");
  });

  it("the console: a viewer reads its pages and presses no button; the audit names who pressed one", async () => {
    const viewer = await newToken("console-viewer", "viewer");
    const operator = await newToken("console-operator", "operator");
    const basic = (token: string) => `Basic ${Buffer.from(`x:${token}`).toString("base64")}`;
    expect((await request(ctx.app).get("/admin/console/subscriptions").set("authorization", basic(viewer.token))).status).toBe(200);
    const pressed = await request(ctx.app)
      .post("/admin/console/subscriptions")
      .set("authorization", basic(viewer.token))
      .type("form")
      .send({ url: "https://x.example" });
    expect(pressed.status).toBe(403);
    expect(pressed.text).toContain("operator role");

    // An operator's page carries a form token bound to its own credential: it works for it, not for another's.
    const page = await request(ctx.app).get("/admin/console/subscriptions").set("authorization", basic(operator.token));
    const cookie = String(page.headers["set-cookie"]).split(";")[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const form = { _csrf: csrf, url: "http://127.0.0.1:9/console-hook", eventTypes: "reservation.*" };
    const withAdminsToken = await request(ctx.app)
      .post("/admin/console/subscriptions")
      .set("authorization", basic(TEST_ADMIN_TOKEN))
      .set("cookie", cookie)
      .type("form")
      .send(form);
    expect(withAdminsToken.status).toBe(403);
    const created = await request(ctx.app)
      .post("/admin/console/subscriptions")
      .set("authorization", basic(operator.token))
      .set("cookie", cookie)
      .type("form")
      .send(form);
    expect(created.status).toBe(200);
    expect(created.text).toContain("Give this secret to the receiver");
    const row = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "subscription.create" }, orderBy: { id: "desc" } });
    expect(row.actor).toBe("console-operator (operator) (console)");
  });

  it("the JSON API's audit rows name the token and its role", async () => {
    const operator = await newToken("billing-ci", "operator");
    const created = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", bearer(operator.token))
      .send({ url: "http://127.0.0.1:9/audit-hook", eventTypes: ["reservation.*"] });
    expect(created.status).toBe(201);
    const row = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "subscription.create", target: created.body.id } });
    expect(row.actor).toBe("billing-ci (operator)");
  });
});

describe("revocation", () => {
  it("reaches every api process: both refuse a revoked token, and its console session ends", async () => {
    const other = buildApp({ config: ctx.config, db: ctx.db, redis: ctx.redis, queues: ctx.queues, log: ctx.log, metrics: ctx.metrics });
    const { id, token } = await newToken("leaving", "operator");
    for (const app of [ctx.app, other]) expect((await request(app).get("/subscriptions").set("authorization", bearer(token))).status).toBe(200);
    const revoked = await request(other).delete(`/admin/tokens/${id}`).set("authorization", bearer(TEST_ADMIN_TOKEN));
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id, revokedBy: "admin" });
    await eventually(
      async () =>
        (await request(ctx.app).get("/subscriptions").set("authorization", bearer(token))).status === 401 &&
        (await request(other).get("/subscriptions").set("authorization", bearer(token))).status === 401 &&
        (
          await request(ctx.app)
            .get("/admin/console")
            .set("authorization", `Basic ${Buffer.from(`x:${token}`).toString("base64")}`)
        ).status === 401,
      10_000,
      "refused everywhere",
    );
    expect((await request(other).delete(`/admin/tokens/${id}`).set("authorization", bearer(TEST_ADMIN_TOKEN))).status).toBe(404);
    const audit = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "token.revoke", target: id } });
    expect(audit).toMatchObject({ actor: "admin" });
  });

  it("a process trusts a token's look-up for at most TOKEN_CACHE_MS: a revocation is seen the moment it runs out", async () => {
    const clock = manualClock(Date.now());
    const authenticator = createAuthenticator({ adminToken: undefined, db: ctx.db, log: ctx.log, clock });
    const { id, token } = await newToken("cached", "viewer");
    expect(await authenticator.authenticate(token)).toMatchObject({ name: "cached", role: "viewer", tokenId: id });
    await request(ctx.app).delete(`/admin/tokens/${id}`).set("authorization", bearer(TEST_ADMIN_TOKEN));
    await clock.advance(TOKEN_CACHE_MS - 1);
    expect(await authenticator.authenticate(token)).toMatchObject({ tokenId: id });
    await clock.advance(1);
    expect(await authenticator.authenticate(token)).toBeNull();
  });
});

describe("without ADMIN_TOKEN", () => {
  it("answers 503 while nothing can open it, and serves named tokens once one exists", async () => {
    const bare = await createTestContext({ ADMIN_TOKEN: "" });
    try {
      const app = buildApp({
        config: { ...bare.config, ADMIN_TOKEN: undefined },
        db: bare.db,
        redis: bare.redis,
        queues: bare.queues,
        log: bare.log,
        metrics: bare.metrics,
      });
      const closed = await request(app).get("/subscriptions");
      expect(closed.status).toBe(503);
      expect(closed.body.error).toBe("admin_token_not_configured");
      // An admin token made by whoever holds the database (the CLI), then the hub is open to it alone.
      const made = await cli(bare.config.DATABASE_URL, "tokens", "create", "first-admin", "--role", "admin", "--as", "dana", "--json");
      expect(made.code, made.stderr).toBe(0);
      const { token } = JSON.parse(made.stdout) as { token: string };
      await eventually(async () => (await request(app).get("/subscriptions")).status === 401, 10_000, "401 once a token exists");
      expect((await request(app).get("/subscriptions").set("authorization", bearer(token))).status).toBe(200);
      expect((await request(app).get("/subscriptions").set("authorization", bearer(TEST_ADMIN_TOKEN))).status).toBe(401);
      const row = await bare.prisma.auditLog.findFirstOrThrow({ where: { action: "token.create" } });
      expect(row.actor).toBe("cli:dana");
      const listed = await cli(bare.config.DATABASE_URL, "tokens", "list");
      expect(listed.stdout).toMatch(/first-admin\s+admin\s+lehub_\S+…/);
      expect(listed.stdout).not.toContain(token);
    } finally {
      await bare.close();
    }
  });
});

/** The CLI (its bin) against the given database. */
const cli = (databaseUrl: string, ...args: string[]) =>
  runHub({ ...process.env, DATABASE_URL: databaseUrl, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX }, ...args);
