// Static headers per subscription (docs/delivery.md, "Static headers"): sent with every attempt and every test
// event, masked in every view and in the audit, and refused when they would break the protocol. Real Postgres,
// Redis, worker and a verifying subscriber on loopback.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { postSubscription, startSubscriber, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const KEY = `k-${randomUUID()}`;
let ctx: TestContext;
let subscriber: Subscriber;
/** Each request's headers, by webhook-id. */
const seen = new Map<string, Record<string, string | string[] | undefined>>();

beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
  subscriber = await startSubscriber();
  subscriber.respond = (req) => {
    seen.set(String(req.headers["webhook-id"]), req.headers);
    return { status: 204 };
  };
}, 30_000);
afterAll(async () => {
  await subscriber?.close();
  await ctx?.close();
});

const subscribe = (body: Record<string, unknown>) => postSubscription(ctx.app, subscriber, { eventTypes: ["reservation.*"], ...body });

/** Posts a webhook and returns the headers the subscriber got with its event. */
async function delivered(): Promise<Record<string, string | string[] | undefined>> {
  const before = subscriber.received.length;
  expect((await postFlovi(ctx.app, statusChange("created", `headers-${randomUUID().slice(0, 8)}`))).status).toBe(202);
  await eventually(async () => subscriber.received.length > before, 15_000, "delivered");
  return seen.get(subscriber.received.at(-1)!.webhookId)!;
}

describe("static headers", () => {
  it("are sent with every attempt and every test event, shown masked, audited masked, and changed by PATCH", async () => {
    const created = await subscribe({ headers: { "X-Api-Key": KEY, "X-Team": "billing" } });
    expect(created.status).toBe(201);
    subscriber.secrets.push(created.body.secret);
    const id = created.body.id as string;
    expect(created.body.headers).toEqual({ "X-Api-Key": "****", "X-Team": "****" });
    expect((await request(ctx.app).get(`/subscriptions/${id}`).set(auth)).body.headers).toEqual({ "X-Api-Key": "****", "X-Team": "****" });
    const listed = (await request(ctx.app).get("/subscriptions").set(auth)).body.data.find((s: { id: string }) => s.id === id);
    expect(JSON.stringify(listed)).not.toContain(KEY);

    const got = await delivered();
    expect(got["x-api-key"]).toBe(KEY);
    expect(got["x-team"]).toBe("billing");
    // The protocol's own headers are untouched.
    expect(got["content-type"]).toBe("application/cloudevents+json; charset=utf-8");

    const test = await request(ctx.app).post(`/subscriptions/${id}/test`).set(auth);
    expect(test.body.delivered).toBe(true);
    expect(seen.get(test.body.eventId)!["x-api-key"]).toBe(KEY);

    const changed = await request(ctx.app)
      .patch(`/subscriptions/${id}`)
      .set(auth)
      .send({ headers: { "X-Api-Key": "rotated" } });
    expect(changed.status).toBe(200);
    expect(changed.body.headers).toEqual({ "X-Api-Key": "****" });
    const after = await delivered();
    expect(after["x-api-key"]).toBe("rotated");
    expect(after["x-team"]).toBeUndefined();
    await request(ctx.app).patch(`/subscriptions/${id}`).set(auth).send({ headers: {} }).expect(200);
    expect((await delivered())["x-api-key"]).toBeUndefined();

    // No value in the audit trail, whatever the action.
    const audit = await ctx.prisma.auditLog.findMany({ where: { target: id } });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(["subscription.create", "subscription.update"]));
    const details = JSON.stringify(audit.map((a) => a.details));
    expect(details).toContain("X-Api-Key");
    expect(details).not.toContain(KEY);
    expect(details).not.toContain("rotated");
    // Nor on the console's page.
    const page = await request(ctx.app).get(`/admin/console/subscriptions/${id}`).auth("admin", TEST_ADMIN_TOKEN);
    expect(page.text).not.toContain("rotated");
    await request(ctx.app).delete(`/subscriptions/${id}`).set(auth);
  }, 60_000);

  it("refuses names that would break the protocol, and Authorization unless allowed", async () => {
    const refused: [Record<string, string>, RegExp][] = [
      [{ "webhook-id": "x" }, /headers\.webhook-id: .*the hub sets them/],
      [{ "Content-Type": "text/plain" }, /headers\.Content-Type: the hub sets this header itself/],
      [{ Host: "evil.example" }, /headers\.Host/],
      [{ "Transfer-Encoding": "chunked" }, /headers\.Transfer-Encoding/],
      [{ Connection: "close" }, /headers\.Connection/],
      [{ Authorization: "Bearer t" }, /allowAuthorizationHeader/],
      [{ "X Bad": "v" }, /is not a valid header name/],
      [{ "X-Line": "a\r\nInjected: 1" }, /no line breaks/],
      [{ "X-A": "1", "x-a": "2" }, /each header name once/],
      [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, "v"])), /20 headers at most/],
    ];
    for (const [headers, message] of refused) {
      const res = await subscribe({ headers });
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(res.body.message, JSON.stringify(headers)).toMatch(message);
    }
    const allowed = await subscribe({ headers: { Authorization: `Bearer ${KEY}` }, allowAuthorizationHeader: true });
    expect(allowed.status).toBe(201);
    expect(allowed.body.headers).toEqual({ Authorization: "****" });
    subscriber.secrets.push(allowed.body.secret);
    const got = await delivered();
    expect(got.authorization).toBe(`Bearer ${KEY}`);
    // A PATCH is checked the same way.
    const patched = await request(ctx.app)
      .patch(`/subscriptions/${allowed.body.id}`)
      .set(auth)
      .send({ headers: { "webhook-signature": "x" } });
    expect(patched.status).toBe(400);
    await request(ctx.app).delete(`/subscriptions/${allowed.body.id}`).set(auth);
  }, 60_000);
});
