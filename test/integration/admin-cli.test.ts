import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";

const run = promisify(execFile);
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
});
afterAll(() => ctx.close());

function cli(...args: string[]) {
  const env = { ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, REDIS_URL: ctx.config.REDIS_URL, QUEUE_PREFIX: ctx.config.QUEUE_PREFIX.slice(1, -1) };
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
    expect(usage.stderr).toContain("usage: npm run admin");
  });
});
