import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { createTestContext, eventually, redisEnvFor, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";

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

describe("admin CLI", () => {
  it("lists queues", async () => {
    const r = await cli("queues");
    expect(r.code).toBe(0);
    const queues = JSON.parse(r.stdout) as { name: string }[];
    expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(["flovi-events", "webhook-deliveries", "mfb-polls"]));
  });

  it("replays a stored webhook and writes an audit row naming the CLI user", async () => {
    const res = await postFlovi(ctx.app, statusChange("created", "cli-r1"));
    await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id: res.body.id } }))?.status === "processed", 10_000, "processed");
    const r = await cli("replay-webhook", res.body.id);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: "replayed", result: "already_done" });
    const row = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "webhook.replay", target: res.body.id } });
    expect(row.actor).toMatch(/^cli:/);
  });

  it("exits 1 on an unknown queue and 2 on bad usage", async () => {
    expect((await cli("failed", "nope")).code).toBe(1);
    const usage = await cli("frobnicate");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^unknown command: frobnicate\n\nusage: npm run admin/);
    const option = await cli("queues", "--frobnicate");
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^Unknown option '--frobnicate'/);
  });

  it("beside a running npm run dev, uses the settings it wrote to .data/dev.env", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cli-dev-"));
    mkdirSync(path.join(dir, ".data"));
    writeFileSync(
      path.join(dir, ".data/dev.env"),
      `DEV_PID=1\nDATABASE_URL=${ctx.config.DATABASE_URL}\n${Object.entries(redisEnvFor({})).map(([k, v]) => `${k}=${v}\n`).join("")}QUEUE_PREFIX=${ctx.config.QUEUE_PREFIX}\n`,
    );
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "DATABASE_URL" && k !== "QUEUE_PREFIX" && !k.startsWith("REDIS_")));
    const loader = path.resolve(import.meta.dirname, "../../node_modules/tsx/dist/loader.mjs");
    const r = await run(process.execPath, ["--import", pathToFileURL(loader).href, path.resolve(import.meta.dirname, "../../src/admin/cli.ts"), "queues"], { env: bare, cwd: dir }).then(
      (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toContain("using the settings of the running `npm run dev`");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((q) => q.name)).toContain("flovi-events");
  });

  it("lists subscriptions with their URLs and limits, and changes an endpoint's ordering and limits (audited)", async () => {
    const created = await request(ctx.app).post("/subscriptions").set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`).send({ url: "http://127.0.0.1:9/cli-hook", eventTypes: ["reservation.*"] });
    const id: string = created.body.id;
    const set = await cli("subscriptions", "set", id, "--ordering", "subject", "--max-in-flight", "3", "--rate", "7.5");
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ id, ordering: "subject", maxInFlight: 3, rateLimitPerSecond: 7.5 });
    const list = await cli("subscriptions", "list");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+active\\s+http://127.0.0.1:9/cli-hook\\s+ordering=subject maxInFlight=3 rate=7.5`));
    const show = await cli("subscriptions", "show", id);
    expect(JSON.parse(show.stdout)).toMatchObject({ id, lane: { inFlight: 0, held: 0 } });
    const bad = await cli("subscriptions", "set", id, "--max-in-flight", "0");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("maxInFlight");
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.update", target: id, actor: { startsWith: "cli:" } } })).toBe(1);
  });
});
