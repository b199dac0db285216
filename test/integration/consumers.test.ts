// Consumers: downstream services that serve themselves with tokens of their own, each within its own
// subscriptions and event types (docs/security.md, "Consumers"), through the real api and worker.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, redisEnvFor, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, type Subscriber } from "../helpers/subscriber.js";
import { runHub } from "../helpers/cli.js";

let ctx: TestContext;
let sub: Subscriber;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
  sub = await startSubscriber();
});
afterAll(async () => {
  await sub.close();
  await ctx.close();
});

const bearer = (token: string) => `Bearer ${token}`;
const as = (token: string) => ({
  get: (path: string) => request(ctx.app).get(path).set("authorization", bearer(token)),
  post: (path: string, body: object = {}) => request(ctx.app).post(path).set("authorization", bearer(token)).send(body),
  patch: (path: string, body: object) => request(ctx.app).patch(path).set("authorization", bearer(token)).send(body),
  delete: (path: string) => request(ctx.app).delete(path).set("authorization", bearer(token)),
});
const admin = as(TEST_ADMIN_TOKEN);

async function consumer(name: string, eventTypes: string[]) {
  const res = await admin.post("/admin/consumers", { name, eventTypes });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ name, eventTypes, tokens: 1, subscriptions: 0, deletedAt: null });
  expect(res.body.token).toMatch(/^lehub_/);
  return { id: res.body.id as string, token: res.body.token as string, api: as(res.body.token) };
}

describe("consumers", () => {
  it("subscribe within their event types, see only their own subscriptions, and another's is a 404", async () => {
    const billing = await consumer("billing", ["reservation.*"]);
    const notify = await consumer("notifications", ["shipment.*", "rental.cancelled"]);

    const outside = await billing.api.post("/subscriptions", { url: `${sub.url}/billing`, eventTypes: ["reservation.*", "shipment.delivered"] });
    expect(outside.status).toBe(403);
    expect(outside.body).toMatchObject({ error: "event_type_not_allowed" });
    expect(outside.body.message).toContain("shipment.delivered");
    const everything = await billing.api.post("/subscriptions", { url: `${sub.url}/billing`, eventTypes: ["*"] });
    expect(everything.status).toBe(403);

    const own = await billing.api.post("/subscriptions", { url: `${sub.url}/billing`, eventTypes: ["reservation.created"] });
    expect(own.status).toBe(201);
    expect(own.body).toMatchObject({ consumerId: billing.id });
    const theirs = await notify.api.post("/subscriptions", { url: `${sub.url}/notify`, eventTypes: ["shipment.*"] });
    expect(theirs.status).toBe(201);

    expect((await billing.api.get("/subscriptions")).body.data.map((s: { id: string }) => s.id)).toEqual([own.body.id]);
    expect((await admin.get("/subscriptions")).body.data.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([own.body.id, theirs.body.id]));

    const other = `/subscriptions/${theirs.body.id}`;
    for (const call of [
      billing.api.get(other),
      billing.api.patch(other, { description: "mine now" }),
      billing.api.delete(other),
      billing.api.post(`${other}/test`),
      billing.api.post(`${other}/rotate-secret`),
      billing.api.post(`${other}/disable`),
      billing.api.get(`${other}/deliveries`),
      billing.api.post(`${other}/recover`, { since: "2026-01-01T00:00:00Z" }),
    ]) {
      const res = await call;
      expect(res.status).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain(`${sub.url}/notify`);
    }
    expect((await admin.get(other)).body).toMatchObject({ status: "active", description: null });

    // Its own: widening its event types past its allowance is refused; within it, changed.
    expect((await billing.api.patch(`/subscriptions/${own.body.id}`, { eventTypes: ["rental.*"] })).status).toBe(403);
    expect((await billing.api.patch(`/subscriptions/${own.body.id}`, { eventTypes: ["reservation.*"] })).body).toMatchObject({ eventTypes: ["reservation.*"] });
    const row = await ctx.prisma.auditLog.findFirstOrThrow({ where: { action: "subscription.create", target: own.body.id } });
    expect(row.actor).toBe("consumer:billing");

    // Everything else is an operator's.
    for (const path of ["/admin/queues", "/admin/audit", "/reservations/x", "/tracking/mfb-orders/x", "/admin/tokens", "/admin/console"])
      expect((await billing.api.get(path)).status, path).toBe(403);
  });

  it("a duplicate is looked for among the caller's own subscriptions only", async () => {
    const a = await consumer("dup-a", ["reservation.*"]);
    const b = await consumer("dup-b", ["reservation.*"]);
    const url = `${sub.url}/shared-gateway`;
    const first = await a.api.post("/subscriptions", { url, eventTypes: ["reservation.*"] });
    expect(first.status).toBe(201);
    // Another consumer's subscription to the same URL is neither a conflict nor shown.
    const second = await b.api.post("/subscriptions", { url, eventTypes: ["reservation.*"] });
    expect(second.status).toBe(201);
    const again = await a.api.post("/subscriptions", { url, eventTypes: ["reservation.created"] });
    expect(again.status).toBe(409);
    expect(again.body.existing.id).toBe(first.body.id);
  });

  it("read the event log of their types only", async () => {
    const reader = await consumer("reader", ["rental.*"]);
    await ctx.prisma.event.createMany({
      data: [
        { type: "reservation.created", subject: "reservation/ev-1", entity: "reservation", entityId: "ev-1" },
        { type: "rental.reserved", subject: "rental/ev-2", entity: "rental", entityId: "ev-2" },
        { type: "shipment.created", subject: "shipment/ev-3", entity: "shipment", entityId: "ev-3" },
      ].map((e, i) => ({
        ...e,
        id: `00000000-0000-4000-8000-00000000e0${i}0`,
        source: "test",
        sequence: 1,
        time: new Date(),
        dedupeKey: `consumer-log-${i}`,
        envelope: { id: `e${i}`, type: e.type },
        position: BigInt(900_000 + i),
      })),
    });
    const page = await reader.api.get("/events?after=899999");
    expect(page.status).toBe(200);
    expect(page.body.data.map((e: { type: string }) => e.type)).toEqual(["rental.reserved"]);
    expect((await reader.api.get("/events?type=rental.reserved&after=899999")).body.data).toHaveLength(1);
    const refused = await reader.api.get("/events?type=reservation.*");
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("event_type_not_allowed");
    expect((await admin.get("/events?after=899999")).body.data).toHaveLength(3);
  });

  it("re-send and recover their own deliveries; another consumer's are not found", async () => {
    const ops = await consumer("ops-feed", ["reservation.*"]);
    const stranger = await consumer("stranger", ["reservation.*"]);
    sub.respond = (req) => (req.path.endsWith("/ops-feed") ? { status: 500 } : { status: 204 });
    const created = await ops.api.post("/subscriptions", { url: `${sub.url}/ops-feed`, eventTypes: ["reservation.*"] });
    sub.secrets.push(created.body.secret);
    await postFlovi(ctx.app, statusChange("created", "consumer-resend"));
    const failed = await eventually(
      async () => (await ops.api.get(`/subscriptions/${created.body.id}/deliveries?status=failed`)).body.data[0],
      20_000,
      "the delivery failed for good",
    );
    sub.respond = () => ({ status: 204 });
    const path = `/subscriptions/${created.body.id}/deliveries/${failed.id}/retry`;
    expect((await stranger.api.post(path)).status).toBe(404);
    // An operator names the delivery within the wrong subscription: not found either.
    const otherSub = await stranger.api.post("/subscriptions", { url: `${sub.url}/stranger`, eventTypes: ["reservation.*"] });
    expect((await admin.post(`/subscriptions/${otherSub.body.id}/deliveries/${failed.id}/retry`)).status).toBe(404);
    const resent = await ops.api.post(path);
    expect(resent.status).toBe(202);
    expect(resent.body).toMatchObject({ kind: "queued", webhookDeliveryId: failed.id });
    await eventually(
      async () => (await ops.api.get(`/subscriptions/${created.body.id}/deliveries?status=succeeded`)).body.data.length === 1,
      20_000,
      "delivered",
    );
    const recovered = await ops.api.post(`/subscriptions/${created.body.id}/recover`, { since: "2026-01-01T00:00:00Z" });
    expect(recovered.status).toBe(202);
    expect(recovered.body).toMatchObject({ requeued: 0 });
    const audit = await ctx.prisma.auditLog.findFirstOrThrow({ where: { target: failed.id } });
    expect(audit.actor).toBe("consumer:ops-feed");
  });

  it("an admin rotates a consumer's tokens and deletes it: its tokens stop, its subscriptions are disabled and kept", async () => {
    const leaving = await consumer("leaving-team", ["reservation.*"]);
    const made = await leaving.api.post("/subscriptions", { url: `${sub.url}/leaving`, eventTypes: ["reservation.*"] });
    const second = await admin.post(`/admin/consumers/${leaving.id}/tokens`, { expiresInDays: 7 });
    expect(second.status).toBe(201);
    expect((await as(second.body.token).get("/subscriptions")).status).toBe(200);
    expect((await admin.delete(`/admin/consumers/${leaving.id}/tokens/${second.body.id}`)).status).toBe(200);
    await eventually(async () => (await as(second.body.token).get("/subscriptions")).status === 401, 10_000, "the rotated-out token refused");
    expect((await leaving.api.get("/subscriptions")).status).toBe(200);

    const changed = await admin.patch(`/admin/consumers/${leaving.id}`, { eventTypes: ["reservation.created"] });
    expect(changed.body).toMatchObject({ eventTypes: ["reservation.created"], subscriptions: 1, tokens: 1 });

    const deleted = await admin.delete(`/admin/consumers/${leaving.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ disabledSubscriptions: [made.body.id], tokens: 0 });
    expect(deleted.body.deletedAt).not.toBeNull();
    await eventually(async () => (await leaving.api.get("/subscriptions")).status === 401, 10_000, "its token refused");
    expect((await admin.get(`/subscriptions/${made.body.id}`)).body).toMatchObject({ status: "disabled", disabledReason: "its consumer was deleted" });
    expect((await admin.delete(`/admin/consumers/${leaving.id}`)).status).toBe(404);
    const listed = (await admin.get("/admin/consumers")).body.data.find((c: { id: string }) => c.id === leaving.id);
    expect(listed).toMatchObject({ name: "leaving-team", deletedBy: "admin" });
  });

  it("the CLI creates, lists and deletes them, naming who did it", { timeout: 60_000 }, async () => {
    const env = { ...process.env, DATABASE_URL: ctx.config.DATABASE_URL, ...redisEnvFor({}), QUEUE_PREFIX: ctx.config.QUEUE_PREFIX };
    const cli = async (...args: string[]) => {
      const result = await runHub(env, ...args, "--as", "erin");
      expect(result.code, result.stderr).toBe(0);
      return result;
    };
    const created = JSON.parse((await cli("consumers", "create", "cli-team", "--events", "rental.*", "--json")).stdout) as { id: string; token: string };
    expect((await as(created.token).get("/subscriptions")).status).toBe(200);
    expect((await as(created.token).post("/subscriptions", { url: `${sub.url}/cli`, eventTypes: ["reservation.*"] })).status).toBe(403);
    expect((await cli("consumers", "list")).stdout).toMatch(/cli-team\s+rental\.\*\s+1\s+0/);
    const rotated = JSON.parse((await cli("consumers", "token", "create", created.id, "--json")).stdout) as { id: string; token: string };
    expect((await as(rotated.token).get("/events")).status).toBe(200);
    expect((await cli("consumers", "delete", created.id)).stdout).toContain("0 subscription(s) disabled");
    await eventually(async () => (await as(rotated.token).get("/events")).status === 401, 10_000, "refused once deleted");
    const audit = await ctx.prisma.auditLog.findMany({ where: { target: created.id }, orderBy: { id: "asc" } });
    expect(audit.map((r) => [r.action, r.actor])).toEqual([
      ["consumer.create", "cli:erin"],
      ["consumer.token-create", "cli:erin"],
      ["consumer.delete", "cli:erin"],
    ]);
  });
});
