import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { createTestContext, eventually, redisEnvFor, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber } from "../helpers/subscriber.js";

const run = promisify(execFile);
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
});
afterAll(() => ctx.close());

function cli(...args: string[]) {
  const env = { ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX };
  return run(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "../../src/admin/cli.ts"), ...args], { env }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

// Each CLI call starts a process that compiles TypeScript (about 2-5 s here); the longer walks make a dozen.
describe("admin CLI", { timeout: 90_000 }, () => {
  it("lists queues: a table for people, the data with --json", async () => {
    const r = await cli("queues");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^QUEUE\s+/);
    expect(r.stdout).toMatch(/^flovi-events\s+\d/m);
    const json = await cli("queues", "--json");
    const queues = JSON.parse(json.stdout) as { name: string }[];
    expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(["flovi-events", "webhook-deliveries", "mfb-polls"]));
  });

  it("replays a stored webhook and writes an audit row naming the CLI user", async () => {
    const res = await postFlovi(ctx.app, statusChange("created", "cli-r1"));
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed", 10_000, "processed");
    const r = await cli("replay-webhook", res.body.id, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: "replayed", result: "already_done" });
    expect((await cli("replay-webhook", res.body.id)).stdout).toBe("replayed: already_done\n");
    const row = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "webhook.replay", target: res.body.id } });
    expect(row.actor).toMatch(/^cli:/);
  });

  it("exits 1 on an unknown queue and 2 on bad usage", async () => {
    expect((await cli("failed", "nope")).code).toBe(1);
    const usage = await cli("frobnicate");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^unknown command: frobnicate\n\nusage: npm run admin/);
    const missing = await cli("tracking", "register", "mfb", "12345");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("a UUID such as");
    const option = await cli("queues", "--frobnicate");
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^Unknown option '--frobnicate'/);
  });

  it("beside a running npm run dev, uses the settings it wrote to .data/dev.env", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cli-dev-"));
    mkdirSync(path.join(dir, ".data"));
    writeFileSync(
      path.join(dir, ".data/dev.env"),
      `DEV_PID=1\nDATABASE_URL=${ctx.config.DATABASE_URL}\n${Object.entries(redisEnvFor({}))
        .map(([k, v]) => `${k}=${v}\n`)
        .join("")}QUEUE_PREFIX=${ctx.config.QUEUE_PREFIX}\n`,
    );
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "DATABASE_URL" && k !== "QUEUE_PREFIX" && !k.startsWith("REDIS_")));
    const loader = path.resolve(import.meta.dirname, "../../node_modules/tsx/dist/loader.mjs");
    const r = await run(
      process.execPath,
      ["--import", pathToFileURL(loader).href, path.resolve(import.meta.dirname, "../../src/admin/cli.ts"), "queues", "--json"],
      { env: bare, cwd: dir },
    ).then(
      (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toContain("using the settings of the running `npm run dev`");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((q) => q.name)).toContain("flovi-events");
  });

  it("lists subscriptions with their URLs and limits, and changes an endpoint's ordering and limits (audited)", async () => {
    const created = await request(ctx.app)
      .post("/subscriptions")
      .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
      .send({ url: "http://127.0.0.1:9/cli-hook", eventTypes: ["reservation.*"] });
    const id: string = created.body.id;
    const set = await cli("subscriptions", "set", id, "--ordering", "subject", "--max-in-flight", "3", "--rate", "7.5", "--json");
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ id, ordering: "subject", maxInFlight: 3, rateLimitPerSecond: 7.5 });
    const list = await cli("subscriptions", "list");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+active\\s+http://127.0.0.1:9/cli-hook\\s+reservation\\.\\*\\s+subject\\s+3\\s+7.5`));
    const show = await cli("subscriptions", "show", id, "--json");
    expect(JSON.parse(show.stdout)).toMatchObject({ id, lane: { inFlight: 0, held: 0 } });
    const bad = await cli("subscriptions", "set", id, "--max-in-flight", "0");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("maxInFlight");
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.update", target: id, actor: { startsWith: "cli:" } } })).toBe(1);
  });

  it("manages an endpoint from creation to deletion: create, duplicate refused, test, disable, enable, rotate, delete", async () => {
    const receiver = await startSubscriber();
    try {
      const created = await cli("subscriptions", "create", receiver.url, "--events", "reservation.*,shipment.delivered", "--json");
      expect(created.code, created.stderr).toBe(0);
      const sub = JSON.parse(created.stdout) as { id: string; secret: string };
      receiver.secrets.push(sub.secret);
      const again = await cli("subscriptions", "create", receiver.url, "--events", "reservation.sealed");
      expect(again.code).toBe(1);
      expect(again.stdout).toContain(`subscription ${sub.id} already sends`);
      const tested = await cli("subscriptions", "test", sub.id);
      expect(tested.code, tested.stdout).toBe(0);
      expect(tested.stdout).toMatch(/^delivered: the endpoint answered 204 in \d+ ms/);
      expect(receiver.received.map((r) => r.event.type)).toEqual(["hub.test"]);
      expect((await cli("subscriptions", "disable", sub.id)).stdout).toBe(`subscription ${sub.id} disabled\n`);
      expect((await cli("subscriptions", "enable", sub.id)).stdout).toBe(`subscription ${sub.id} enabled\n`);
      const rotated = await cli("subscriptions", "rotate-secret", sub.id);
      expect(rotated.stdout).toMatch(/^new secret: whsec_/);
      expect((await cli("subscriptions", "delete", sub.id)).code).toBe(0);
      expect((await cli("subscriptions", "show", sub.id)).code).toBe(1);
      const actions = (await ctx.prisma.auditLog.findMany({ where: { target: sub.id }, orderBy: { id: "asc" } })).map((a) => a.action);
      expect(actions).toEqual([
        "subscription.create",
        "subscription.test",
        "subscription.disable",
        "subscription.enable",
        "subscription.rotate-secret",
        "subscription.delete",
      ]);
    } finally {
      await receiver.close();
    }
  });

  it("lists events and deliveries, retries one, registers and stops tracking, in words", async () => {
    const receiver = await startSubscriber();
    try {
      const sub = JSON.parse((await cli("subscriptions", "create", receiver.url, "--events", "reservation.*", "--json")).stdout) as {
        id: string;
        secret: string;
      };
      receiver.secrets.push(sub.secret);
      await postFlovi(ctx.app, statusChange("created", "cli-ev-1"));
      await eventually(async () => receiver.received.length === 1, 10_000, "delivered");
      const events = await cli("events", "list", "--subject", "reservation/cli-ev-1");
      expect(events.stdout).toMatch(/reservation\.created\s+reservation\/cli-ev-1\s+1/);
      const eventId = receiver.received[0]!.event.id;
      expect(JSON.parse((await cli("events", "show", eventId)).stdout)).toMatchObject({ id: eventId, type: "reservation.created" });
      expect((await cli("events", "list", "--type", "reservation.create")).code).toBe(2);
      const deliveries = await cli("deliveries", "list", "--subscription", sub.id, "--json");
      const [delivery] = JSON.parse(deliveries.stdout) as { id: string; status: string }[];
      expect(delivery!.status).toBe("succeeded");
      expect((await cli("deliveries", "show", delivery!.id)).stdout).toMatch(/ATTEMPT\s+AT\s+STATUS[\s\S]*\n1\s+\S+\s+204/);
      const again = await cli("deliveries", "retry", delivery!.id);
      expect(again.code).not.toBe(0);
      expect(again.stdout + again.stderr).toMatch(/this delivery already succeeded \(at \d{4}-\d\d-\d\dT.*Z\); add --force to send it again/);
      expect((await cli("deliveries", "retry", delivery!.id, "--force")).stdout).toBe(`delivery ${delivery!.id} is queued to be sent again: sent now\n`);
      const order = "6e5698db-c07f-4a6e-85b2-768f474cd8c6";
      expect((await cli("tracking", "register", "mfb", order, "--reference", "PO-CLI")).stdout).toMatch(
        /^MFB order 6e5698db-c07f-4a6e-85b2-768f474cd8c6 tracked/,
      );
      expect((await cli("tracking", "list")).stdout).toMatch(/mfb\s+6e5698db-c07f-4a6e-85b2-768f474cd8c6\s+PO-CLI/);
      expect((await cli("tracking", "stop", "mfb", order)).stdout).toContain("polling stopped");
    } finally {
      await receiver.close();
    }
  });

  it("tail prints one line per inbound webhook and per delivery attempt as they happen", async () => {
    const receiver = await startSubscriber();
    const sub = JSON.parse((await cli("subscriptions", "create", receiver.url, "--events", "reservation.*", "--allow-duplicate", "--json")).stdout) as {
      secret: string;
    };
    receiver.secrets.push(sub.secret);
    const env = { ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX };
    const child = spawn(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "../../src/admin/cli.ts"), "tail"], { env });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    try {
      await eventually(async () => out.includes("tailing"), 15_000, "tail started");
      await postFlovi(ctx.app, statusChange("created", "cli-tail-1"));
      await eventually(
        async () => /OUT\s+reservation\.created reservation\/cli-tail-1 → 127\.0\.0\.1:\d+\s+204\s+\d+ ms\s+attempt 1/.test(out),
        15_000,
        "attempt line",
      );
      expect(out).toMatch(/IN\s+flovi cli-tail-1\s+(received|processed)/);
    } finally {
      child.kill("SIGINT");
      await receiver.close();
    }
  });

  it("a queue command with Redis away fails in seconds with a clear message; a Postgres-only command does not need Redis", async () => {
    const env = {
      ...process.env,
      DATABASE_URL: ctx.config.DATABASE_URL,
      REDIS_URL: "redis://127.0.0.1:1",
      REDIS_SENTINELS: "",
      REDIS_SENTINEL_MASTER: "",
      REDIS_CLUSTER_NODES: "",
      QUEUE_PREFIX: ctx.config.QUEUE_PREFIX,
    };
    const started = Date.now();
    const queues = await run(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "../../src/admin/cli.ts"), "queues"], { env }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(queues.code).toBe(1);
    expect(queues.stderr).toContain("Redis is not reachable");
    expect(Date.now() - started).toBeLessThan(20_000);
    const list = await run(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "../../src/admin/cli.ts"), "subscriptions", "list"], {
      env,
    });
    expect(list.stdout.length).toBeGreaterThan(0);
  });
});
