// One line per outage: the first lost connection warns once (what, since when, what the hub does meanwhile),
// reminders at most every minute, a probe sees the recovery and says so once; the process's logger hands
// lost connections to Redis or Postgres to the tracker and writes everything else as before.
import { describe, expect, it } from "vitest";
import { capturedLog } from "../helpers/captured-log.js";
import { classify, createOutages, quietOutages, REMINDER_MS } from "../../src/observability/outages.js";
import { manualClock } from "../helpers/manual-clock.js";

const flush = () => new Promise((r) => setImmediate(r));

const endpoints = { postgresPorts: [5432], redisPorts: [6379] };
const refused = (port: number) => Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: "ECONNREFUSED", port, address: "127.0.0.1" });

describe("outages", () => {
  it("one warning, a reminder a minute, one line when the probe finds it back; the gauge follows", async () => {
    const clock = manualClock();
    const { log, lines } = capturedLog();
    let redisUp = false;
    const gauge: number[] = [];
    const outages = createOutages({
      log,
      clock,
      meanwhile: { redis: "webhooks are stored; queued later", postgres: "refused with 503" },
      probes: { redis: async () => (redisUp ? "PONG" : Promise.reject(refused(6379))), postgres: async () => 1 },
      gauge: { set: (_labels, value) => gauge.push(value) },
    });
    const quiet = quietOutages(log, outages, endpoints);
    for (let second = 0; second < 150; second++) {
      // Many failing calls a second, from the logger's children too (request loggers).
      for (let i = 0; i < 20; i++) quiet.child({ req: i }).warn({ err: refused(6379) }, "enqueue failed; the sweeper will enqueue these later");
      await clock.advance(1_000);
    }
    redisUp = true;
    await clock.advance(1_000);
    await flush();

    const said = lines.map((l) => l.msg);
    expect(said).toEqual(["redis is unreachable", "redis is still unreachable", "redis is still unreachable", "redis is back"]);
    expect(lines[0]).toMatchObject({
      level: 40,
      dependency: "redis",
      meanwhile: "webhooks are stored; queued later",
      error: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6379",
    });
    expect(lines[0]).not.toHaveProperty("err");
    expect(lines[1]).toMatchObject({ downForMs: REMINDER_MS });
    expect(lines[3]).toMatchObject({ level: 30, dependency: "redis", failures: 3_000 });
    expect(lines[3]!.downForMs).toBeGreaterThanOrEqual(150_000);
    expect(gauge).toEqual([1, 1, 0, 1]);

    // The next outage is a new one: its own warning.
    quiet.error({ err: refused(6379) }, "worker connection error");
    await flush();
    expect(lines.at(-1)).toMatchObject({ msg: "redis is unreachable" });
    outages.close();
  });

  it("writes what is not a lost connection to Redis or Postgres as before", async () => {
    const { log, lines } = capturedLog();
    const outages = createOutages({ log, meanwhile: { redis: "", postgres: "" }, probes: { redis: async () => 1, postgres: async () => 1 } });
    const quiet = quietOutages(log, outages, endpoints);
    quiet.warn({ err: refused(8443) }, "a subscriber refused"); // another port: not ours
    quiet.warn({ err: Object.assign(new Error("duplicate key value"), { code: "23505" }) }, "insert failed");
    quiet.warn({ queue: "x" }, "no err at all");
    quiet.info({ err: refused(6379) }, "an info line is never an outage");
    // A reset has no port: whose it was, only the call site knows (a BullMQ worker's is its Redis connection).
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" });
    quiet.warn({ err: reset }, "a reset, nobody says whose");
    quiet.warn({ dependency: "redis", err: reset }, "worker connection error");
    await flush();
    expect(lines.map((l) => l.msg)).toEqual([
      "a subscriber refused",
      "insert failed",
      "no err at all",
      "an info line is never an outage",
      "a reset, nobody says whose",
      "redis is unreachable",
    ]);
    outages.close();
  });

  it("children write with their own bindings and level, and hand their lost connections over too", async () => {
    const { log, lines } = capturedLog();
    const outages = createOutages({ log, meanwhile: { redis: "", postgres: "" }, probes: { redis: async () => 1, postgres: async () => 1 } });
    const quiet = quietOutages(log, outages, endpoints);
    const request = quiet.child({ requestId: "r1" });
    const step = request.child({ step: "enqueue" });
    step.warn({ queue: "x" }, "slow");
    request.error("failed");
    const { warn } = step;
    warn({ err: refused(6379) }, "enqueue failed"); // a method taken off its logger still knows it
    const errorsOnly = quiet.child({ requestId: "r2" }, { level: "error" });
    errorsOnly.warn("below its level");
    errorsOnly.error("at its level");
    quiet.warn("the process's own");
    await flush();
    expect(lines.map(({ msg, requestId, step, level }) => ({ msg, requestId, step, level }))).toEqual([
      { msg: "slow", requestId: "r1", step: "enqueue", level: 40 },
      { msg: "failed", requestId: "r1", step: undefined, level: 50 },
      { msg: "redis is unreachable", requestId: undefined, step: undefined, level: 40 },
      { msg: "at its level", requestId: "r2", step: undefined, level: 50 },
      { msg: "the process's own", requestId: undefined, step: undefined, level: 40 },
    ]);
    outages.close();
  });

  it("tells Postgres from Redis by port, code or message", () => {
    expect(classify(refused(5432), endpoints)).toBe("postgres");
    expect(classify(refused(6379), endpoints)).toBe("redis");
    expect(classify(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }), endpoints)).toBe("postgres");
    expect(classify(new Error("Connection terminated unexpectedly"), endpoints)).toBe("postgres");
    expect(classify(new Error("Stream isn't writeable and enableOfflineQueue options is false"), endpoints)).toBe("redis");
    expect(classify(new Error("Connection is closed."), endpoints)).toBe("redis");
    // A host with two addresses refused on both (Node's AggregateError), wrapped as a cause.
    const both = Object.assign(new AggregateError([refused(6379), refused(6379)], ""), { code: "ECONNREFUSED" });
    expect(classify(new Error("enqueue failed", { cause: both }), endpoints)).toBe("redis");
    const pgReset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    pgReset.stack = "Error: read ECONNRESET\n    at /srv/hub/node_modules/pg-pool/index.js:45:11";
    expect(classify(pgReset, endpoints)).toBe("postgres");
    expect(classify(refused(443), endpoints)).toBeNull();
    expect(classify(new Error("ERR unknown command"), endpoints)).toBeNull();
  });
});
