// A real subscriber on loopback that verifies every request with standardwebhooks' Webhook.verify.
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import request from "supertest";
import type { Express } from "express";
import { startFakeServer, type FakeServer, type RecordedRequest, type Reply } from "../../scripts/lib/fakes/http-server.js";
import { FLOVI_API_KEY, startFakeFlovi, type FakeFlovi } from "../../scripts/lib/fakes/providers.js";
import { createTestContext, TEST_ADMIN_TOKEN, type TestContext, type TestEnv } from "./context.js";

export interface Received {
  webhookId: string;
  event: { id: string; type: string; subject: string; data: { sequence: number; status: string; [k: string]: unknown } };
  signatures: string[];
  at: number;
  /** The `hub-replay` header: the replay this delivery belongs to (docs/delivery.md). */
  replay?: string;
}

export interface Subscriber {
  url: string;
  server: FakeServer;
  /** Verified deliveries answered 2xx. */
  received: Received[];
  /** Every request, verified or not, with the status it was answered. */
  attempts: { webhookId: string; status: number; at: number }[];
  secrets: string[];
  /** Decides the answer per request; defaults to 204. */
  respond: (req: RecordedRequest, attempt: number) => Reply;
  close(): Promise<void>;
}

export async function startSubscriber(): Promise<Subscriber> {
  const sub: Subscriber = {
    url: "",
    server: undefined as unknown as FakeServer,
    received: [],
    attempts: [],
    secrets: [],
    respond: () => ({ status: 204 }),
    close: () => sub.server.close(),
  };
  sub.server = await startFakeServer((req) => {
    const headers = {
      "webhook-id": String(req.headers["webhook-id"]),
      "webhook-timestamp": String(req.headers["webhook-timestamp"]),
      "webhook-signature": String(req.headers["webhook-signature"]),
    };
    const verified = sub.secrets.some((secret) => {
      try {
        new Webhook(secret).verify(req.body, headers);
        return true;
      } catch {
        return false;
      }
    });
    if (!verified) {
      sub.attempts.push({ webhookId: headers["webhook-id"], status: 401, at: Date.now() });
      return { status: 401, body: { error: "bad signature" } };
    }
    const previous = sub.attempts.filter((a) => a.webhookId === headers["webhook-id"]).length;
    const reply = sub.respond(req, previous + 1);
    sub.attempts.push({ webhookId: headers["webhook-id"], status: reply.status, at: Date.now() });
    if (reply.status >= 200 && reply.status < 300) {
      const replay = req.headers["hub-replay"];
      sub.received.push({
        webhookId: headers["webhook-id"],
        event: JSON.parse(req.body),
        signatures: headers["webhook-signature"].split(" "),
        at: Date.now(),
        ...(replay ? { replay: String(replay) } : {}),
      });
    }
    return reply;
  });
  // A path of its own: a port a closed subscriber gave back may come again, and an endpoint URL already
  // subscribed in the same database would make a new subscription a duplicate (409).
  sub.url = `${sub.server.url}/hooks/${randomUUID().slice(0, 8)}`;
  return sub;
}

export async function subscribe(app: Express, sub: Subscriber, eventTypes: string[], url = sub.url) {
  const res = await request(app).post("/subscriptions").set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`).send({ url, eventTypes });
  if (res.status !== 201) throw new Error(`subscribe failed: ${res.status} ${JSON.stringify(res.body)}`);
  sub.secrets.push(res.body.secret);
  return res.body as { id: string; secret: string };
}

/** POST /subscriptions for a path of its own under the subscriber, with these fields; the answer as it came (any status). */
export function postSubscription(app: Express, sub: Subscriber, body: Record<string, unknown>) {
  return request(app)
    .post("/subscriptions")
    .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
    .send({ url: `${sub.url}/${randomUUID().slice(0, 8)}`, ...body });
}

/** A test context with a running worker and a verifying subscriber of every reservation event. */
export async function contextWithSubscriber(env: TestEnv = {}): Promise<{ ctx: TestContext; sub: Subscriber; close(): Promise<void> }> {
  const ctx = await createTestContext(env);
  await ctx.startWorker();
  const sub = await startSubscriber();
  await subscribe(ctx.app, sub, ["reservation.*"]);
  return {
    ctx,
    sub,
    async close() {
      await sub.close();
      await ctx.close();
    },
  };
}

/**
 * The fake Flovi Partner API and a context (worker, verifying subscriber) whose key reaches it. The scheduled
 * reconciler is off (interval 0): a test runs the backfill or look-ups itself, at a known moment.
 */
export async function contextWithFloviApi(): Promise<{ ctx: TestContext; sub: Subscriber; flovi: FakeFlovi; close(): Promise<void> }> {
  const flovi = await startFakeFlovi();
  const world = await contextWithSubscriber({ FLOVI_API_BASE_URL: flovi.url, FLOVI_API_KEY, FLOVI_RECONCILE_INTERVAL_MS: "0" });
  return {
    ...world,
    flovi,
    async close() {
      await world.close();
      await flovi.close();
    },
  };
}
