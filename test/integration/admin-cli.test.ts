import { execFile, spawn } from "node:child_process";
import net from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { createTestContext, eventually, redisEnvFor, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber } from "../helpers/subscriber.js";
import { HUB_BIN, runHub } from "../helpers/cli.js";

const run = promisify(execFile);
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
});
afterAll(() => ctx.close());

const BIN = HUB_BIN;
const cliEnv = () => ({ ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX });
const cli = (...args: string[]) => runHub(cliEnv(), ...args);

// Each CLI call starts a process (a fraction of a second; the first may build the bundle); the longer walks make a dozen.
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
    // An unknown command: the commands there are, in a line, not the whole manual.
    expect(usage.stderr).toMatch(/^unknown command: frobnicate\ncommands: subscriptions, deliveries, recover, events, tracking, tokens, consumers, webhooks, /);
    expect(usage.stderr.trim().split("\n")).toHaveLength(3);
    // A known command used wrongly: its own usage only.
    const recover = await cli("recover");
    expect(recover.code).toBe(2);
    expect(recover.stderr.trim().split("\n")).toEqual([
      "recover: name the subscription and give --since <ISO time>",
      "usage:",
      expect.stringMatching(/^ {2}recover <subscriptionId> --since ISO \[--include-pending\]/),
      "(hub --help: every command)",
    ]);
    const missing = await cli("tracking", "register", "mfb", "12345");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("a UUID such as");
    const option = await cli("queues", "--frobnicate");
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^Unknown option '--frobnicate'.*\n\(hub --help: every command with its options\)\n$/);
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
    const r = await run(process.execPath, [BIN, "queues", "--json"], { env: bare, cwd: dir }).then(
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
    expect(bad.stderr).toContain("--max-in-flight: Too small");
    expect(await ctx.prisma.auditLog.count({ where: { action: "subscription.update", target: id, actor: { startsWith: "cli:" } } })).toBe(1);
  });

  it("manages an endpoint from creation to deletion: create, duplicate refused, test, disable, enable, rotate, delete", async () => {
    const receiver = await startSubscriber();
    try {
      const created = await cli(
        "subscriptions",
        "create",
        receiver.url,
        "--events",
        "reservation.*,shipment.delivered",
        "--header",
        "X-Api-Key: cli-key-1",
        "--header",
        "X-Team: ops",
        "--json",
      );
      expect(created.code, created.stderr).toBe(0);
      const sub = JSON.parse(created.stdout) as { id: string; secret: string; headers: Record<string, string> };
      expect(sub.headers).toEqual({ "X-Api-Key": "****", "X-Team": "****" });
      receiver.secrets.push(sub.secret);
      expect((await cli("subscriptions", "show", sub.id)).stdout).toMatch(/static headers:\s+.*X-Api-Key: \*\*\*\*/);
      const refused = await cli("subscriptions", "set", sub.id, "--header", "webhook-id: x");
      expect(refused.code).toBe(2);
      expect(refused.stdout + refused.stderr).toMatch(/--header webhook-id: the webhook-\* headers carry the signature/);
      const filtered = await cli("subscriptions", "set", sub.id, "--filters", '[{"exact": {"data.status": "taken"}}]', "--json");
      expect(JSON.parse(filtered.stdout).filters).toEqual([{ exact: { "data.status": "taken" } }]);
      expect((await cli("subscriptions", "show", sub.id)).stdout).toMatch(/filters:\s+\[\{"exact":\{"data.status":"taken"\}\}\]/);
      const notJson = await cli("subscriptions", "set", sub.id, "--filters", "[{exact}]");
      expect(notJson.code).toBe(2);
      expect(notJson.stdout + notJson.stderr).toMatch(/--filters: not JSON/);
      const badFilter = await cli("subscriptions", "set", sub.id, "--filters", '[{"equals": {"type": "x"}}]');
      expect(badFilter.stdout + badFilter.stderr).toMatch(/--filters 0: unknown dialect "equals"/);
      await cli("subscriptions", "set", sub.id, "--filters", "[]");
      const again = await cli("subscriptions", "create", receiver.url, "--events", "reservation.sealed");
      expect(again.code).toBe(1);
      expect(again.stdout).toContain(`subscription ${sub.id} already sends`);
      const tested = await cli("subscriptions", "test", sub.id);
      expect(tested.code, tested.stdout).toBe(0);
      expect(tested.stdout).toMatch(/^delivered: the endpoint answered 204 in \d+ ms/);
      expect(receiver.received.map((r) => r.event.type)).toEqual(["hub.test"]);
      expect(receiver.server.requests.at(-1)!.headers["x-api-key"]).toBe("cli-key-1");
      expect((await cli("subscriptions", "disable", sub.id)).stdout).toBe(`subscription ${sub.id} disabled\n`);
      expect((await cli("subscriptions", "enable", sub.id)).stdout).toBe(`subscription ${sub.id} enabled\n`);
      const rotated = await cli("subscriptions", "rotate-secret", sub.id);
      expect(rotated.stdout).toMatch(/^new secret: whsec_/);
      expect((await cli("subscriptions", "delete", sub.id)).code).toBe(0);
      expect((await cli("subscriptions", "show", sub.id)).code).toBe(1);
      const actions = (await ctx.prisma.auditLog.findMany({ where: { target: sub.id }, orderBy: { id: "asc" } })).map((a) => a.action);
      expect(actions).toEqual([
        "subscription.create",
        "subscription.update",
        "subscription.update",
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
      const [delivery] = (JSON.parse(deliveries.stdout) as { data: { id: string; status: string }[] }).data;
      expect(delivery!.status).toBe("succeeded");
      // The search's filters: by the answer its attempt got, by event type; a bad one names its flag.
      expect((await cli("deliveries", "list", "--subscription", sub.id, "--response-status", "204")).stdout).toMatch(
        /reservation\.created\s+reservation\/cli-ev-1/,
      );
      expect((await cli("deliveries", "list", "--subscription", sub.id, "--type", "shipment.*")).stdout).toBe("no deliveries\n");
      const bad = await cli("deliveries", "list", "--subscription", sub.id, "--response-status", "42");
      expect(bad.code).toBe(2);
      expect(bad.stdout + bad.stderr).toMatch(/--response-status: /);
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
    const child = spawn(process.execPath, [BIN, "tail"], { env: cliEnv(), cwd: tmpdir() });
    let out = "";
    // The webhook goes in the moment the first line is out: tail shows everything after that line.
    const firstLine = new Promise<void>((resolve) =>
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("tailing")) resolve();
      }),
    );
    try {
      await firstLine;
      await postFlovi(ctx.app, statusChange("created", "cli-tail-1"));
      await eventually(
        async () => /OUT\s+reservation\.created reservation\/cli-tail-1 → 127\.0\.0\.1:\d+\s+204\s+\d+ ms\s+attempt 1/.test(out),
        15_000,
        "attempt line",
      );
      // Inbound and outbound are read by two polls: under load the webhook's own line may come a poll later.
      await eventually(async () => /IN\s+flovi cli-tail-1\s+(received|processed)/.test(out), 15_000, "inbound line");
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
    const queues = await run(process.execPath, [BIN, "queues"], { env, cwd: tmpdir() }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(queues.code).toBe(1);
    expect(queues.stderr).toContain("Redis is not reachable");
    // wall clock: "fails in seconds, never hangs" is the behaviour.
    expect(Date.now() - started).toBeLessThan(20_000);
    const list = await run(process.execPath, [BIN, "subscriptions", "list"], { env, cwd: tmpdir() });
    expect(list.stdout.length).toBeGreaterThan(0);
  });
  it("subscriptions show speaks in labels and ISO 8601 times; recover names its flag", async () => {
    const sub = JSON.parse(
      (await cli("subscriptions", "create", "http://127.0.0.1:9/cli-show", "--events", "reservation.*", "--ordering", "subject", "--json")).stdout,
    ) as {
      id: string;
    };
    // One failed attempt, as the delivery client records it.
    await ctx.prisma.subscription.update({ where: { id: sub.id }, data: { consecutiveFailures: 2, failingSince: new Date("2026-12-03T10:00:00Z") } });
    const shown = await cli("subscriptions", "show", sub.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^failed attempts: +2 attempts in a row since 2026-12-03T10:00:00Z; a success resets it$/m);
    expect(shown.stdout).toMatch(/^ordering: +by subject/m);
    expect(shown.stdout).toMatch(/^rate limit: +none$/m);
    expect(shown.stdout).not.toMatch(/GMT|Coordinated Universal Time|consecutiveFailures|heldSince|inFlight/);
    // --json keeps the raw fields.
    expect(JSON.parse((await cli("subscriptions", "show", sub.id, "--json")).stdout)).toMatchObject({ consecutiveFailures: 2, lane: { inFlight: 0 } });
    const recovered = await cli("recover", sub.id, "--since", "2026-01-01T00:00:00Z");
    expect(recovered.stdout).toContain("(with --include-pending they are sent now)");
    expect(recovered.stdout).not.toContain("includePending");
  });

  it("tail says once when the database goes away, keeps its place, and goes on when it is back", async () => {
    // tail reaches Postgres through a proxy this test can cut and restore (the service stopping, then starting).
    // While cut it turns every connection away and counts them: each one is a retry of tail's.
    const target = new URL(ctx.config.DATABASE_URL);
    const sockets = new Set<net.Socket>();
    let cut = false;
    let turnedAway = 0;
    const proxy = net.createServer((client) => {
      if (cut) {
        turnedAway += 1;
        client.destroy();
        return;
      }
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("error", () => s.destroy());
        s.on("close", () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const viaProxy = new URL(ctx.config.DATABASE_URL);
    viaProxy.host = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const child = spawn(process.execPath, [BIN, "tail"], { env: { ...cliEnv(), DATABASE_URL: viaProxy.toString() }, cwd: tmpdir() });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    try {
      await eventually(async () => out.includes("tailing"), 15_000, "tail started");
      // The database goes away: one line that says so, and tail keeps running.
      cut = true;
      for (const s of sockets) s.destroy();
      await eventually(
        async () => /Postgres at 127\.0\.0\.1:\d+\/\S+ is not reachable \(.*\): is the service stopped\? retrying every 2 s/.test(err),
        15_000,
        "unreachable",
      );
      await postFlovi(ctx.app, statusChange("created", "cli-tail-gap"));
      // Two more retries turned away, and still the one line.
      const seen = turnedAway;
      await eventually(async () => turnedAway >= seen + 2, 15_000, "two more retries");
      expect(child.exitCode).toBeNull();
      expect(err.match(/is not reachable/g)).toHaveLength(1);
      // Back: what was stored meanwhile is shown, nothing skipped.
      cut = false;
      await eventually(async () => /IN\s+flovi cli-tail-gap\s/.test(out), 20_000, "the webhook stored while tail was cut off");
      expect(err).toMatch(/is reachable again \(it was away since \d{4}-\d\d-\d\dT[\d:.]+Z\); continuing where tail stopped/);
    } finally {
      child.kill("SIGINT");
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });
});
