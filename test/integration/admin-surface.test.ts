// The admin surface holds: Bull Board and the console change nothing unaudited and go back only to console
// pages, secrets in URLs are masked, a TLS proxy in front works, large bodies are cut for display, the api keeps
// its own limits and pools, and every change writes its audit row or none is made.
import { randomUUID } from "node:crypto";
import { PassThrough } from "node:stream";
import pg from "pg";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backPath } from "../../src/http/console/kit.js";
import { createLogger } from "../../src/observability/logger.js";
import { buildApp } from "../../src/app.js";
import { createTestContext, directDatabaseUrl, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi } from "../helpers/flovi.js";
import { poolOf } from "../../src/db/clients.js";
import { audited } from "../../src/db/audit.js";
import { insertSubscription } from "../../src/db/subscriptions.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ SUBSCRIPTION_ALLOWED_HOSTS: "127.0.0.1" });
});
afterAll(() => ctx.close());

async function session(app = ctx.app, path = "/admin/console") {
  const res = await request(app).get(path).set("authorization", basic);
  const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
  const token = /<meta name="console-token" content="([^"]+)">/.exec(res.text)![1]!;
  return { cookie, token, setCookie: String(res.headers["set-cookie"]) };
}

describe("Bull Board changes nothing unaudited", () => {
  it("every write under /admin/ui is refused (405) and the queues stay as they were", async () => {
    const queue = ctx.queues.get("flovi-events");
    await queue.add("process-flovi-delivery", { inboundDeliveryId: "00000000-0000-4000-8000-000000000001" }, { jobId: "bb-probe", delay: 60_000 });
    const writes: [string, string, object?][] = [
      ["put", "/admin/ui/api/queues/pause"],
      ["put", "/admin/ui/api/queues/flovi-events/pause"],
      ["put", "/admin/ui/api/queues/flovi-events/resume"],
      ["post", "/admin/ui/api/queues/flovi-events/add", { name: "x", data: {} }],
      ["put", "/admin/ui/api/queues/flovi-events/clean/delayed"],
      ["put", "/admin/ui/api/queues/flovi-events/empty"],
      ["put", "/admin/ui/api/queues/flovi-events/obliterate"],
      ["put", "/admin/ui/api/queues/flovi-events/bb-probe/promote"],
      ["patch", "/admin/ui/api/queues/flovi-events/bb-probe/update-data", { data: { inboundDeliveryId: "x" } }],
      ["put", "/admin/ui/api/queues/flovi-events/bb-probe/clean"],
      ["delete", "/admin/ui/api/queues/flovi-events/bb-probe"],
    ];
    for (const [method, path, body] of writes) {
      const res = await (request(ctx.app) as any)
        [method](path)
        .set("authorization", basic)
        .set("sec-fetch-site", "same-origin")
        .send(body ?? {});
      expect(res.status, `${method} ${path}`).toBe(405);
    }
    expect(await queue.isPaused()).toBe(false);
    const job = await queue.getJob("bb-probe");
    expect(job?.data).toEqual({ inboundDeliveryId: "00000000-0000-4000-8000-000000000001" });
    expect(await job?.isDelayed()).toBe(true);
    // Reading still works.
    expect((await request(ctx.app).get("/admin/ui/api/queues").set("authorization", basic)).status).toBe(200);
    await job?.remove();
  });
});

describe("the console's back address can only name a console page", () => {
  it("normalizes dot segments, encoded dots, backslashes and scheme-relative forms before checking", () => {
    for (const hostile of [
      "/admin/console/../..//evil.example/phish",
      "/admin/console/%2e%2e/%2e%2e//evil.example/phish",
      "/admin/console/..\\..\\/evil.example/phish",
      "/admin/console\\..\\..\\..\\evil.example",
      "//evil.example/admin/console",
      "https://evil.example/admin/console",
      "/admin/consoleevil",
      "javascript:alert(1)",
    ]) {
      expect(backPath(hostile), hostile).toBe("/admin/console");
    }
    expect(backPath("/admin/console/subscriptions?status=failed")).toBe("/admin/console/subscriptions?status=failed");
    expect(backPath("/admin/console/inbound/../subscriptions")).toBe("/admin/console/subscriptions");
  });

  it("a button posted with a hostile back returns to the console", async () => {
    const { cookie, token } = await session();
    const res = await request(ctx.app)
      .post("/admin/console/providers/mfb/resume")
      .set("authorization", basic)
      .set("cookie", cookie)
      .type("form")
      .send({ _csrf: token, back: "/admin/console/../..//evil.example/phish" });
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/admin\/console\?notice=/);
  });

  it("a notice shows only when the console wrote it", async () => {
    const forged = await request(ctx.app).get("/admin/console?notice=Your%20session%20expired%3A%20log%20in%20at%20evil.example").set("authorization", basic);
    expect(forged.text).not.toContain("evil.example");
    const { cookie, token } = await session();
    const done = await request(ctx.app)
      .post("/admin/console/providers/mfb/resume")
      .set("authorization", basic)
      .set("cookie", cookie)
      .type("form")
      .send({ _csrf: token, back: "/admin/console/providers" });
    const shown = await request(ctx.app).get(done.headers.location!).set("authorization", basic);
    expect(shown.text).toMatch(/class="notice"/);
    const tampered = done.headers.location!.replace(/notice=[^&]+/, "notice=log%20in%20at%20evil.example");
    expect((await request(ctx.app).get(tampered).set("authorization", basic)).text).not.toContain("evil.example");
  });
});

describe("secrets in URLs", () => {
  it("a subscription URL's query values are masked in the API, the audit log and the console; delivery uses the whole URL", async () => {
    const url = "http://127.0.0.1:9/hooks?token=receiver-secret-123&team=ops";
    const created = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url, eventTypes: ["reservation.*"] });
    expect(created.status).toBe(201);
    expect(created.body.url).toBe("http://127.0.0.1:9/hooks?token=***&team=***");
    const audit = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "subscription.create", target: created.body.id } });
    expect(JSON.stringify(audit.details)).not.toContain("receiver-secret-123");
    const page = await request(ctx.app).get("/admin/console/subscriptions").set("authorization", basic);
    expect(page.text).toContain("/hooks?token=***");
    expect(page.text).not.toContain("receiver-secret-123");
    const stored = await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(stored.url).toBe(url);
  });

  it("request logs keep query names, never their values", async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on("data", (b: Buffer) => lines.push(b.toString()));
    const app = buildApp({
      config: ctx.config,
      db: ctx.db,
      redis: ctx.redis,
      queues: ctx.queues,
      log: createLogger({ level: "info", destination: stream }),
      metrics: ctx.metrics,
    });
    await request(app).get(`/events?token=${TEST_ADMIN_TOKEN}&limit=1`).set(auth);
    await eventually(async () => lines.some((l) => l.includes("/events")), 5_000, "the log line");
    const line = lines.find((l) => l.includes("/events"))!;
    expect(line).toContain("/events?token=***&limit=***");
    expect(line).not.toContain(TEST_ADMIN_TOKEN);
  });
});

describe("behind a TLS-terminating proxy (TRUST_PROXY)", () => {
  it("console writes pass the same-origin check and the session cookie is Secure", async () => {
    const behind = buildApp({
      config: { ...ctx.config, TRUST_PROXY: "loopback" },
      db: ctx.db,
      redis: ctx.redis,
      queues: ctx.queues,
      log: ctx.log,
      metrics: ctx.metrics,
    });
    const viaProxy = (r: request.Test) => r.set("x-forwarded-proto", "https").set("x-forwarded-host", "hub.example.com");
    const page = await viaProxy(request(behind).get("/admin/console").set("authorization", basic));
    expect(String(page.headers["set-cookie"])).toMatch(/;\s*Secure/i);
    const cookie = String(page.headers["set-cookie"]).split(";")[0]!;
    const token = /<meta name="console-token" content="([^"]+)">/.exec(page.text)![1]!;
    const post = await viaProxy(
      request(behind)
        .post("/admin/console/providers/mfb/resume")
        .set("authorization", basic)
        .set("cookie", cookie)
        .set("origin", "https://hub.example.com")
        .set("sec-fetch-site", "same-origin"),
    )
      .type("form")
      .send({ _csrf: token, back: "/admin/console/providers" });
    expect(post.status).toBe(303);
    // Without TRUST_PROXY the same request is refused, and the headers are not believed.
    const direct = await viaProxy(request(ctx.app).get("/admin/console").set("authorization", basic));
    expect(String(direct.headers["set-cookie"])).not.toMatch(/;\s*Secure/i);
    const refused = await viaProxy(
      request(ctx.app).post("/admin/console/providers/mfb/resume").set("authorization", basic).set("origin", "https://hub.example.com"),
    )
      .type("form")
      .send({});
    expect(refused.status).toBe(403);
  });
});

describe("large bodies", () => {
  it("the console shows the first part of a long body, with a link to the whole one (redacted)", async () => {
    const body = JSON.stringify({
      event: "reservation_status_change",
      reservationId: "hb2-long",
      state: "created",
      notes: "n".repeat(40_000),
      customer: { lastName: "Doe" },
    });
    const stored = await postFlovi(ctx.app, Buffer.from(body));
    expect(stored.status).toBe(202);
    await ctx.startWorker();
    await ctx.settled();
    const page = await request(ctx.app).get("/admin/console/reservations/hb2-long").set("authorization", basic);
    expect(page.status).toBe(200);
    expect(page.text.length).toBeLessThan(30_000);
    expect(page.text).toContain(`/admin/console/inbound/${stored.body.id}/body`);
    const whole = await request(ctx.app).get(`/admin/console/inbound/${stored.body.id}/body`).set("authorization", basic);
    expect(whole.status).toBe(200);
    expect(whole.text).toContain("n".repeat(40_000));
    expect(whole.text).not.toContain("Doe");
  });
});

describe("the api's own limits", () => {
  it("HTTP_HEADERS_TIMEOUT_MS holds within a second or two for a client trickling its headers", async () => {
    const { start } = await import("../../src/runtime.js");
    const running = await start("api", { ...ctx.config, PORT: 0, HOST: "127.0.0.1", HTTP_HEADERS_TIMEOUT_MS: 2_000 }, ctx.log);
    try {
      const net = await import("node:net");
      const socket = net.connect(running.port!, "127.0.0.1");
      socket.on("error", () => undefined); // the server cutting it mid-write
      await new Promise((resolve) => socket.once("connect", resolve));
      const t0 = Date.now();
      socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      const trickle = setInterval(() => socket.write("X-Slow: 1\r\n"), 300);
      const closedAfter = await new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - t0)));
      clearInterval(trickle);
      // Node checks timeouts every connectionsCheckingInterval (30 s unless set): the cut comes at 2 s, not 30.
      expect(closedAfter).toBeGreaterThanOrEqual(1_900);
      expect(closedAfter).toBeLessThan(4_500);
    } finally {
      await running.stop("test");
    }
  });

  it.each([
    { who: "operators' reads (the console)", pool: "operatorDb", path: "/admin/console/subscriptions" },
    { who: "consumers' reads (GET /events)", pool: "readerDb", path: "/events?limit=10" },
  ] as const)("$who run on their own pool: stuck on its connections, they never hold up the ingress", async ({ pool, path }) => {
    const { createDatabase } = await import("../../src/db/client.js");
    const own = createDatabase({ url: ctx.config.DATABASE_URL, poolSize: 1, applicationName: "test-own-pool" });
    const app = buildApp({ config: ctx.config, db: ctx.db, [pool]: own, redis: ctx.redis, queues: ctx.queues, log: ctx.log, metrics: ctx.metrics });
    // The pool's only connection is busy (a page of a thousand subscriptions, a consumer paging hard): its
    // statement waits on a lock this test holds, for as long as the test holds it.
    const holder = new pg.Client({ connectionString: directDatabaseUrl(ctx.config.DATABASE_URL) });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(7317)");
      const busy = poolOf(own).query("SELECT pg_advisory_xact_lock(7317)");
      await eventually(
        async () =>
          // (Read outside the holder's transaction: a transaction sees pg_stat_activity as of its first read.)
          (
            await poolOf(ctx.db).query<{ n: number }>(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'test-own-pool' AND wait_event_type = 'Lock'",
            )
          ).rows[0]!.n === 1,
        10_000,
        "the pool's connection waiting",
      );
      let pageAnswered = false;
      const page = request(app)
        .get(path)
        .set(pool === "readerDb" ? auth : { authorization: basic })
        .then((r) => {
          pageAnswered = true;
          return r;
        });
      // The read is queued on its own pool (not on the ingress's)...
      await eventually(async () => poolOf(own).waitingCount === 1, 10_000, "the read waiting for its own pool");
      // ...and the ingress answers while it waits.
      const accepted = await postFlovi(
        app,
        Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: `hb2-${pool}`, state: "created" })),
      );
      expect(accepted.status).toBe(202);
      expect(pageAnswered).toBe(false);
      // The read waited for its own pool, and answers once that is free.
      await holder.query("COMMIT");
      await busy;
      expect((await page).status).toBe(200);
    } finally {
      await holder.end();
      await own.close();
    }
  });

  it("the console role serves operators and refuses Flovi's webhooks with 404 saying where they go", async () => {
    const app = buildApp({ config: ctx.config, db: ctx.db, redis: ctx.redis, queues: ctx.queues, log: ctx.log, metrics: ctx.metrics, ingress: false });
    const body = Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: "console-role", state: "created" }));
    const refused = await postFlovi(app, body);
    expect(refused.status).toBe(404);
    expect(refused.body.message).toContain("api role");
    const { rows } = await poolOf(ctx.db).query("SELECT 1 FROM inbound_deliveries WHERE convert_from(raw_body, 'UTF8') LIKE '%console-role%'");
    expect(rows).toHaveLength(0);
    expect((await request(app).get("/admin/console/subscriptions").set("authorization", basic)).status).toBe(200);
    expect((await request(app).get("/readyz")).status).toBe(200);
  });

  it("the subscriptions page is paginated: 50 per page, a link to the next", async () => {
    for (let i = 0; i < 60; i++)
      await request(ctx.app)
        .post("/subscriptions")
        .set(auth)
        .send({ url: `http://127.0.0.1:9/page/${i}`, eventTypes: ["rental.reserved"] })
        .expect(201);
    const first = await request(ctx.app).get("/admin/console/subscriptions").set("authorization", basic);
    expect((first.text.match(/<tr data-subscription=/g) ?? []).length).toBe(50);
    const next = /<a rel="next" href="([^"]+)"/.exec(first.text)![1]!.replaceAll("&amp;", "&");
    const second = await request(ctx.app).get(next).set("authorization", basic);
    const ids = (text: string) => [...text.matchAll(/<tr data-subscription="([^"]+)"/g)].map((m) => m[1]);
    expect(ids(second.text).length).toBeGreaterThan(0);
    expect(ids(second.text).filter((id) => ids(first.text).includes(id))).toEqual([]);
  });
});

describe("no unaudited change", () => {
  it("a change whose audit row cannot be written is rolled back with it", async () => {
    const before = await ctx.prisma.subscription.count();
    await expect(
      audited(ctx.db, ctx.log, async (tx) => {
        const created = await insertSubscription(tx, {
          id: randomUUID(),
          url: "http://127.0.0.1:9/x",
          eventTypes: ["*"],
          description: null,
          secret: "whsec_x",
          ordering: "none",
          maxInFlight: 16,
          rateLimitPerSecond: null,
          consumerId: null,
        });
        // jsonb refuses \u0000: the audit insert fails.
        return { result: created, audit: { actor: "test", action: "subscription.create", target: created.id, details: { bad: "\u0000" } } };
      }),
    ).rejects.toThrow();
    expect(await ctx.prisma.subscription.count()).toBe(before);
  });

  it("each subscription change writes its audit row", async () => {
    const res = await request(ctx.app)
      .post("/subscriptions")
      .set(auth)
      .send({ url: "http://127.0.0.1:9/x", eventTypes: ["*"] });
    expect(res.status).toBe(201);
    await request(ctx.app).post(`/subscriptions/${res.body.id}/disable`).set(auth).expect(200);
    await request(ctx.app).delete(`/subscriptions/${res.body.id}`).set(auth).expect(204);
    const actions = (await ctx.prisma.auditLog.findMany({ where: { target: res.body.id }, orderBy: { id: "asc" } })).map((a) => a.action);
    expect(actions).toEqual(["subscription.create", "subscription.disable", "subscription.delete"]);
  });
});

describe("admin surface", () => {
  const basic = `Basic ${Buffer.from(`ops:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
  it("Basic auth works under /admin/ui only", async () => {
    expect((await request(ctx.app).get("/admin/queues").set("authorization", basic)).status).toBe(401);
    expect((await request(ctx.app).get("/subscriptions").set("authorization", basic)).status).toBe(401);
    expect((await request(ctx.app).get("/admin/ui").set("authorization", basic)).status).toBe(200);
  });

  it("a state-changing request to /admin/ui from another origin is refused", async () => {
    const path = "/admin/ui/api/queues/flovi-events/retry/failed";
    const cross = await request(ctx.app).put(path).set("authorization", basic).set("origin", "https://evil.example").set("sec-fetch-site", "cross-site");
    expect(cross.status).toBe(403);
    expect(cross.body.error).toBe("cross_origin_refused");
    const same = await request(ctx.app).put(path).set("authorization", basic).set("sec-fetch-site", "same-origin");
    expect(same.status).not.toBe(403);
  });

  it("nosniff everywhere, framing denied, no X-Powered-By", async () => {
    for (const path of ["/healthz", "/admin/ui"]) {
      const res = await request(ctx.app).get(path).set("authorization", basic);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
  });

  it("lists stored webhooks with their sizes computed by Postgres", async () => {
    const body = Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: "h-size", state: "created", pad: "p".repeat(500) }));
    const stored = await postFlovi(ctx.app, body);
    const res = await request(ctx.app).get("/admin/webhooks?limit=500").set(auth);
    expect(res.status).toBe(200);
    expect(res.body.data.find((d: { id: string }) => d.id === stored.body.id)).toMatchObject({ bodyBytes: body.length, status: "received" });
    expect(res.body.data[0]).not.toHaveProperty("rawBody");
  });
});
