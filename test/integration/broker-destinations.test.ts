// Broker destinations (docs/delivery.md, "Destinations"): subscriptions that publish to RabbitMQ (publisher
// confirms, mandatory) and NATS JetStream (acknowledged publishes, Nats-Msg-Id), with the guarantees of HTTP
// delivery. Real rabbitmq-server and nats-server on loopback, started here; the messages are read back by a
// durable queue and a stream consumer, as a downstream service reads them.
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startNats, startRabbitMq } from "../../scripts/lib/brokers.js";
import type { LocalServer } from "../../scripts/lib/local-services.js";
import { createBrokers } from "../../src/delivery/brokers/index.js";
import { refusedPublish } from "../../src/delivery/brokers/types.js";
import type { AttemptAnswer } from "../../src/delivery/attempt-answer.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { natsStream, type QueueReader, rabbitQueue, type ReceivedMessage } from "../helpers/brokers.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { capturedLog } from "../helpers/captured-log.js";
import { runHub } from "../helpers/cli.js";
import { redisEnvFor } from "../helpers/context.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const STATES = ["created", "taken", "driving", "sealed", "final_costs"];
let ctx: TestContext;
let rabbit: LocalServer;
let nats: LocalServer;
const readers: QueueReader[] = [];
/** What the service logged, at debug level: a broker's credentials must never be in it. */
const logged = capturedLog("debug");
/** Publishes to exchange `hub.faulty` are refused once in three (a fault-injecting wrapper around the real client). */
const refusedOnce = new Set<string>();
let faultyPublishes = 0;
/** What each real publish to `hub.faulty` answered, by event id, in order (the injected refusals publish nothing). */
const faultyAnswers = new Map<string, AttemptAnswer[]>();

beforeAll(async () => {
  const dir = mkdtempSync(path.join(inject("scratchDir"), "brokers-"));
  [rabbit, nats] = await Promise.all([startRabbitMq({ dataDir: path.join(dir, "rabbitmq") }), startNats({ dataDir: path.join(dir, "nats") })]);
  ctx = await createTestContext({ LOG_DELIVERY_OUTCOMES: "true" }, { log: logged.log });
  const brokers = createBrokers({ enforcePublic: false, allowedHosts: [] });
  const real = brokers.rabbitmq.publish;
  brokers.rabbitmq.publish = async (target, message, timeoutMs) => {
    if (target.options.type === "rabbitmq" && target.options.exchange === "hub.faulty" && !refusedOnce.has(message.eventId) && ++faultyPublishes % 3 === 0) {
      refusedOnce.add(message.eventId);
      return refusedPublish(1, "injected: the broker refused the message (nack)");
    }
    const answer = await real(target, message, timeoutMs);
    if (target.options.type === "rabbitmq" && target.options.exchange === "hub.faulty") {
      faultyAnswers.set(message.eventId, [...(faultyAnswers.get(message.eventId) ?? []), answer]);
    }
    return answer;
  };
  await ctx.startWorker({}, brokers);
}, 90_000);

afterAll(async () => {
  for (const r of readers) await r.close();
  await ctx?.close();
  await Promise.allSettled([rabbit?.stop(), nats?.stop()]);
});

async function reader(open: Promise<QueueReader>) {
  const r = await open;
  readers.push(r);
  return r;
}

async function subscribe(body: Record<string, unknown>) {
  const res = await request(ctx.app).post("/subscriptions").set(auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; url: string; destination: Record<string, unknown> };
}

/** Posts a reservation's webhooks in order; answers its id. */
async function reservationThrough(states: string[], id = `R-${randomUUID().slice(0, 8)}`) {
  for (const state of states) expect((await postFlovi(ctx.app, statusChange(state, id))).status).toBe(202);
  return id;
}

/** Posts `perSecond` new reservations through their five states every second until stopped; stop() answers how many. */
function reservationsEverySecond(perSecond: number) {
  let posted = 0;
  let posting = true;
  const sending = (async () => {
    while (posting) {
      const started = Date.now();
      await Promise.all(Array.from({ length: perSecond }, () => reservationThrough(STATES)));
      posted += perSecond;
      await new Promise((r) => setTimeout(r, Math.max(0, 1_000 - (Date.now() - started)))); // wall clock: pacing the sender
    }
  })();
  return {
    async stop() {
      posting = false;
      await sending;
      return posted;
    },
  };
}

/** Per subject, the sequences in arrival order; fails on any that goes back (a repeat of the last one is at-least-once, allowed). */
function outOfOrder(messages: ReceivedMessage[]): number {
  const last = new Map<string, number>();
  let wrong = 0;
  for (const m of messages) {
    const previous = last.get(m.event.subject) ?? 0;
    if (m.event.data.sequence < previous) wrong++;
    last.set(m.event.subject, Math.max(previous, m.event.data.sequence));
  }
  return wrong;
}

const lastAttempt = async (subscriptionId: string) =>
  ctx.prisma.deliveryAttempt.findFirst({ where: { delivery: { subscriptionId } }, orderBy: { attemptedAt: "desc" } });

describe("RabbitMQ destinations", () => {
  it("publish each event as a persistent CloudEvent with its id, confirmed; credentials are masked; a test event is published", async () => {
    const queue = `billing-${randomUUID().slice(0, 8)}`;
    const consumer = await reader(rabbitQueue(rabbit.url, "hub.events", queue, ["reservation.#", "hub.#"]));
    const created = await subscribe({
      destination: { type: "rabbitmq", url: rabbit.url, exchange: "hub.events", routingKey: "{type}" },
      eventTypes: ["reservation.*"],
      headers: { "X-Team": "billing" },
    });
    const password = new URL(rabbit.url).password;
    expect(created.url).toBe(`amqp://***@127.0.0.1:${rabbit.port}`);
    expect(created.destination).toEqual({ type: "rabbitmq", url: `amqp://***@127.0.0.1:${rabbit.port}`, exchange: "hub.events", routingKey: "{type}" });

    const reservation = await reservationThrough(["created", "taken"]);
    await eventually(async () => consumer.received.filter((m) => m.event.subject.endsWith(reservation)).length >= 2, 20_000, "two messages in the queue");
    const mine = consumer.received.filter((m) => m.event.subject.endsWith(reservation));
    // Unordered mode: the two may be published at once (one drain batch), in either order.
    expect(mine.map((m) => m.event.type).sort()).toEqual(["reservation.created", "reservation.taken"]);
    for (const m of mine) {
      expect(m.messageId).toBe(m.event.id);
      expect(m.contentType).toBe("application/cloudevents+json");
      expect(m.persistent).toBe(true);
      expect(m.routedAs).toBe(m.event.type);
      expect(m.headers["X-Team"]).toBe("billing");
    }
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: created.id, status: "succeeded" } })) === 2,
      10_000,
      "recorded",
    );

    const test = await request(ctx.app).post(`/subscriptions/${created.id}/test`).set(auth);
    expect(test.body).toMatchObject({ delivered: true, error: null });
    await eventually(async () => consumer.received.some((m) => m.event.id === test.body.eventId && m.event.type === "hub.test"), 10_000, "the test event");

    // The password is nowhere: not in a view, not in the audit trail.
    const views = JSON.stringify([
      (await request(ctx.app).get(`/subscriptions/${created.id}`).set(auth)).body,
      (await request(ctx.app).get("/subscriptions").set(auth)).body,
      (await ctx.prisma.auditLog.findMany({ where: { target: created.id } })).map((a) => a.details),
    ]);
    expect(views).toContain("amqp://***@");
    expect(views).not.toContain(password);
    // The console shows the destination's kind and target (masked) on its list and its page.
    const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`;
    const page = (await request(ctx.app).get(`/admin/console/subscriptions/${created.id}`).set("authorization", basic)).text;
    expect(page).toContain(`RabbitMQ amqp://***@127.0.0.1:${rabbit.port}, exchange &quot;hub.events&quot;, routing key {type}`);
    const list = (await request(ctx.app).get("/admin/console/subscriptions").set("authorization", basic)).text;
    expect(list).toContain(`<span class="muted">rabbitmq</span> <a href="/admin/console/subscriptions/${created.id}">amqp://***@127.0.0.1:${rabbit.port}</a>`);
    expect(page + list).not.toContain(password);
    // Nor in the logs (every attempt logged one line, with the broker's host).
    expect(logged.lines.some((l) => String(l.msg).includes(`→ 127.0.0.1:${rabbit.port}: confirmed`))).toBe(true);
    expect(JSON.stringify(logged.lines)).not.toContain(password);
  }, 60_000);

  it("fail a publish that reaches no queue (mandatory) or no exchange, and retry it on the schedule", async () => {
    const unbound = await subscribe({
      destination: { type: "rabbitmq", url: rabbit.url, exchange: "hub.events", routingKey: "nobody-listens.{type}" },
      eventTypes: ["reservation.*"],
    });
    const missing = await subscribe({ destination: { type: "rabbitmq", url: rabbit.url, exchange: "no-such-exchange" }, eventTypes: ["reservation.*"] });
    await reservationThrough(["created"]);
    const returned = await eventually(async () => (await lastAttempt(unbound.id))?.error, 15_000, "the returned publish recorded");
    expect(returned).toContain("reached no queue");
    const notFound = await eventually(async () => (await lastAttempt(missing.id))?.error, 15_000, "the refused publish recorded");
    expect(notFound).toMatch(/NOT_FOUND.*no-such-exchange/);
    // Failed attempts, on the schedule: neither delivery succeeded, and each was tried again.
    await eventually(async () => (await ctx.prisma.deliveryAttempt.count({ where: { delivery: { subscriptionId: unbound.id } } })) >= 2, 15_000, "a retry");
    expect(await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: { in: [unbound.id, missing.id] }, status: "succeeded" } })).toBe(0);
  }, 60_000);

  it("keep one subject's events in sequence order with a third of publishes refused once", async () => {
    const consumer = await reader(rabbitQueue(rabbit.url, "hub.faulty", `ordered-${randomUUID().slice(0, 8)}`, ["#"]));
    const created = await subscribe({
      destination: { type: "rabbitmq", url: rabbit.url, exchange: "hub.faulty" },
      eventTypes: ["reservation.*"],
      ordering: "subject",
    });
    const ids = Array.from({ length: 12 }, () => `R-${randomUUID().slice(0, 8)}`);
    await Promise.all(ids.map((id) => reservationThrough(STATES, id)));
    const expected = ids.length * STATES.length;
    await eventually(async () => new Set(consumer.received.map((m) => m.messageId)).size >= expected, 45_000, `${expected} messages`);
    expect(refusedOnce.size).toBeGreaterThan(expected / 4);
    expect(outOfOrder(consumer.received)).toBe(0);
    // A message can reach the queue before its confirm reaches the publisher, and the last confirms' records
    // commit a moment after that (group commit): once every delivery is recorded, every publish has answered.
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: created.id, status: "succeeded" } })) === expected,
      10_000,
      `${expected} deliveries recorded as succeeded`,
    );
    for (const id of ids) {
      const copies = consumer.received.filter((m) => m.event.subject.endsWith(id));
      // Each event once, in sequence order, under its own id.
      const firsts = copies.filter((m, i) => copies.findIndex((c) => c.messageId === m.messageId) === i);
      expect(firsts.map((m) => m.event.data.sequence)).toEqual([1, 2, 3, 4, 5]);
      expect(new Set(firsts.map((m) => m.event.id))).toEqual(new Set(firsts.map((m) => m.messageId)));
      // At least once: a second copy (same id) only when a real publish before it went unconfirmed (its confirm
      // lost with the channel or the connection), and nothing published again once the broker confirmed it.
      for (const first of firsts) {
        const answers = faultyAnswers.get(first.messageId) ?? [];
        const received = copies.filter((m) => m.messageId === first.messageId).length;
        expect(received, `copies of ${first.messageId} against what its publishes answered: ${JSON.stringify(answers)}`).toBeLessThanOrEqual(answers.length);
        expect(answers.slice(0, -1).filter((a) => a.confirmed)).toEqual([]);
        expect(answers.at(-1)?.confirmed).toBe(true);
      }
    }
  }, 90_000);

  it("pause a lane while the broker is away and deliver every event, in order, once it is back (stopped 20 s under 50 events/s)", async () => {
    const consumer = await reader(rabbitQueue(rabbit.url, "hub.restart", `restart-${randomUUID().slice(0, 8)}`, ["#"]));
    const created = await subscribe({
      destination: { type: "rabbitmq", url: rabbit.url, exchange: "hub.restart" },
      eventTypes: ["reservation.*"],
      ordering: "subject",
    });
    // 50 webhooks a second: ten reservations a second, each through its five states.
    const sender = reservationsEverySecond(10);
    await eventually(async () => consumer.received.length > 50, 20_000, "deliveries before the stop");
    await rabbit.stop();
    await new Promise((r) => setTimeout(r, 20_000)); // wall clock: the broker stays away 20 s while webhooks keep coming
    const paused = await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: created.id } });
    // Paused as for a 429, saying why.
    expect(paused.pauseReason).toMatch(/^broker unavailable: /);
    expect(paused.pausedUntil!.getTime()).toBeGreaterThan(Date.now() - 5_000); // wall clock: paused again and again while away
    await rabbit.start();
    const expected = (await sender.stop()) * STATES.length;
    await consumer.reconnect();
    await eventually(async () => new Set(consumer.received.map((m) => m.messageId)).size >= expected, 60_000, `all ${expected} events after the restart`);
    expect(outOfOrder(consumer.received)).toBe(0);
    // Waiting out the broker used no attempt of the schedule: nothing failed, nothing was disabled.
    expect(paused.status).toBe("active");
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: created.id, status: "succeeded" } })) === expected,
      10_000,
      `${expected} deliveries recorded as succeeded`,
    );
    expect(await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: created.id, status: "failed" } })).toBe(0);
  }, 150_000);
});

describe("NATS JetStream destinations", () => {
  it("publish each event with Nats-Msg-Id = its id, acknowledged by the stream; a replay gets ids of its own; no stream is a failure", async () => {
    const stream = `HUB${randomUUID().slice(0, 6).toUpperCase()}`;
    const prefix = `hub${stream.toLowerCase()}`;
    const consumer = await reader(natsStream(nats.url, stream, [`${prefix}.>`]));
    const created = await subscribe({ destination: { type: "nats", url: nats.url, subject: `${prefix}.{type}` }, eventTypes: ["reservation.*"] });
    expect(created.destination).toEqual({ type: "nats", url: nats.url, subject: `${prefix}.{type}` });
    const since = new Date(Date.now() - 1_000).toISOString();
    const reservation = await reservationThrough(["created", "taken"]);
    await eventually(async () => consumer.received.length >= 2, 15_000, "two messages in the stream");
    expect(consumer.received.map((m) => m.routedAs).sort()).toEqual([`${prefix}.reservation.created`, `${prefix}.reservation.taken`]);
    for (const m of consumer.received) {
      expect(m.messageId).toBe(m.event.id);
      expect(m.contentType).toBe("application/cloudevents+json; charset=utf-8");
      expect(m.event.subject).toContain(reservation);
    }

    const replay = await request(ctx.app).post(`/subscriptions/${created.id}/replay`).set(auth).send({ since });
    expect(replay.status).toBe(202);
    await eventually(async () => consumer.received.length >= 4, 15_000, "the replayed messages (not dropped as duplicates)");
    const replayed = consumer.received.slice(2);
    expect(replayed.map((m) => m.messageId).sort()).toEqual(
      consumer.received
        .slice(0, 2)
        .map((m) => `${m.event.id}:${replay.body.id}`)
        .sort(),
    );
    expect(replayed.every((m) => m.headers["hub-replay"] === replay.body.id)).toBe(true);

    const test = await request(ctx.app).post(`/subscriptions/${created.id}/test`).set(auth);
    expect(test.body.delivered).toBe(true);
    expect(test.body.excerpt).toMatch(new RegExp(`^stream ${stream} sequence \\d+`));

    const nowhere = await subscribe({ destination: { type: "nats", url: nats.url, subject: "nobody.{type}" }, eventTypes: ["reservation.*"] });
    await reservationThrough(["created"]);
    expect(await eventually(async () => (await lastAttempt(nowhere.id))?.error, 15_000, "the refused publish")).toContain("no JetStream stream takes subject");
  }, 60_000);

  it("pause a lane while the server is away and publish every event, in order, once it is back (the connection re-opened)", async () => {
    const stream = `RESTART${randomUUID().slice(0, 6).toUpperCase()}`;
    const prefix = stream.toLowerCase();
    // The stream exists before the first publish; it is read only at the end, from its first message.
    await (await natsStream(nats.url, stream, [`${prefix}.>`])).close();
    const created = await subscribe({
      destination: { type: "nats", url: nats.url, subject: `${prefix}.{type}` },
      eventTypes: ["reservation.*"],
      ordering: "subject",
    });
    const published = async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: created.id, status: "succeeded" } })) > 0;
    // 25 webhooks a second: five reservations a second, each through its five states.
    const sender = reservationsEverySecond(5);
    await eventually(published, 20_000, "publishes before the stop");
    await nats.stop();
    await new Promise((r) => setTimeout(r, 10_000)); // wall clock: the server stays away 10 s while webhooks keep coming
    const paused = await ctx.prisma.subscription.findUniqueOrThrow({ where: { id: created.id } });
    expect(paused.pauseReason).toMatch(/^broker unavailable: /);
    await nats.start();
    const expected = (await sender.stop()) * STATES.length;
    await eventually(
      async () => (await ctx.prisma.webhookDelivery.count({ where: { subscriptionId: created.id, status: "succeeded" } })) === expected,
      60_000,
      `${expected} deliveries recorded as succeeded after the restart`,
    );
    const consumer = await reader(natsStream(nats.url, stream, [`${prefix}.>`]));
    await eventually(async () => consumer.received.length >= expected, 20_000, `all ${expected} messages in the stream`);
    // JetStream's de-duplication window dropped any re-send: each event once, each subject in sequence order.
    expect(consumer.received).toHaveLength(expected);
    expect(new Set(consumer.received.map((m) => m.messageId)).size).toBe(expected);
    expect(outOfOrder(consumer.received)).toBe(0);
    expect(paused.status).toBe("active");
  }, 150_000);
});

describe("the admin CLI", () => {
  it("creates broker subscriptions (--rabbitmq, --nats), shows them masked, and tests them", async () => {
    const env = { ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX };
    const stream = `CLI${randomUUID().slice(0, 6).toUpperCase()}`;
    await reader(natsStream(nats.url, stream, [`${stream.toLowerCase()}.>`]));
    const natsCreated = await runHub(
      env,
      "subscriptions",
      "create",
      "--nats",
      nats.url,
      "--subject",
      `${stream.toLowerCase()}.{type}`,
      "--events",
      "reservation.*",
      "--json",
    );
    expect(natsCreated.code, natsCreated.stderr).toBe(0);
    const natsId = JSON.parse(natsCreated.stdout).id as string;
    const tested = await runHub(env, "subscriptions", "test", natsId, "--json");
    expect(JSON.parse(tested.stdout)).toMatchObject({ delivered: true });

    await reader(rabbitQueue(rabbit.url, "hub.cli", `cli-${randomUUID().slice(0, 8)}`, ["#"]));
    const created = await runHub(env, "subscriptions", "create", "--rabbitmq", rabbit.url, "--exchange", "hub.cli", "--events", "reservation.*");
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).not.toContain("secret");
    const id = /id:\s+([0-9a-f-]{36})/.exec(created.stdout)![1]!;
    const shown = await runHub(env, "subscriptions", "show", id);
    expect(shown.stdout).toContain(`amqp://***@127.0.0.1:${rabbit.port}`);
    expect(shown.stdout).toContain('rabbitmq: exchange "hub.cli", routing key {type}');
    expect(shown.stdout + created.stdout).not.toContain(new URL(rabbit.url).password);
    const refused = await runHub(env, "subscriptions", "create", "--rabbitmq", "http://mq", "--exchange", "x", "--events", "reservation.*");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toContain("a rabbitmq url starts with amqp://");
  }, 60_000);
});

describe("a destination's input", () => {
  it("is refused with the problem named: an unknown type, a bad URL, a bad template, both url and destination", async () => {
    const refused = async (body: Record<string, unknown>) => {
      const res = await request(ctx.app)
        .post("/subscriptions")
        .set(auth)
        .send({ eventTypes: ["reservation.*"], ...body });
      expect(res.status).toBe(400);
      return String(res.body.message);
    };
    expect(await refused({ destination: { type: "kafka", url: "kafka://k:9092" } })).toContain("destination.type must be one of rabbitmq, nats");
    expect(await refused({ destination: { type: "rabbitmq", url: "http://mq:5672", exchange: "x" } })).toContain(
      "a rabbitmq url starts with amqp:// or amqps://",
    );
    expect(await refused({ destination: { type: "rabbitmq", url: rabbit.url, exchange: "x", routingKey: "{tpye}" } })).toContain("unknown placeholder {tpye}");
    expect(await refused({ destination: { type: "nats", url: nats.url, subject: "hub.>" } })).toContain("no wildcards");
    expect(await refused({ destination: { type: "nats", url: nats.url } })).toContain("subject");
    expect(await refused({ url: "https://example.com/hook", destination: { type: "nats", url: nats.url, subject: "a" } })).toContain("not both");
    expect(await refused({})).toContain('give either "url"');
  });
});
