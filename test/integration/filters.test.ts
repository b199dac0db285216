// Subscription filters (docs/delivery.md, "Filters"): each CloudEvents Subscriptions API dialect as the
// database evaluates it, a filtered subscription that gets only what matches (and no delivery row for the
// rest), and filters refused with the place of the problem. Real Postgres, Redis, worker and a verifying
// subscriber on loopback.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relayBatch, writeEvents } from "../../src/db/outbox.js";
import { withTransaction } from "../../src/db/sql.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { rentalConfirmed } from "../helpers/events.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { postSubscription, startSubscriber, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
let subscriber: Subscriber;

beforeAll(async () => {
  ctx = await createTestContext();
  subscriber = await startSubscriber();
}, 30_000);
afterAll(async () => {
  await subscriber?.close();
  await ctx?.close();
});

const subscribe = (body: Record<string, unknown>) => postSubscription(ctx.app, subscriber, body);

describe("the dialects, as the fan-out evaluates them (hub_filter_matches)", () => {
  const event = {
    specversion: "1.0",
    id: "e-1",
    source: "/providers/mfb",
    type: "shipment.exception",
    subject: "shipment/MFB-123",
    data: { phase: "exception", status: "exception", sequence: 4, details: { carrier: "ups-express", parcel: { index: 0 } } },
  };
  it.each([
    [[], true],
    [[{ exact: { type: "shipment.exception" } }], true],
    [[{ exact: { type: "shipment.delivered" } }], false],
    [[{ exact: { "data.phase": "exception" } }, { prefix: { "data.details.carrier": "ups" } }], true],
    [[{ exact: { "data.phase": "exception" } }, { prefix: { "data.details.carrier": "dhl" } }], false],
    [[{ suffix: { subject: "-123" } }], true],
    [[{ suffix: { subject: "-124" } }], false],
    [[{ prefix: { source: "/providers/" } }], true],
    [[{ exact: { "data.sequence": "4" } }], true],
    [[{ exact: { "data.details.parcel.index": "0" } }], true],
    [[{ all: [{ exact: { "data.phase": "exception" } }, { suffix: { "data.details.carrier": "express" } }] }], true],
    [[{ all: [{ exact: { "data.phase": "exception" } }, { suffix: { "data.details.carrier": "ground" } }] }], false],
    [[{ any: [{ exact: { type: "shipment.delivered" } }, { exact: { "data.phase": "exception" } }] }], true],
    [[{ any: [{ exact: { type: "shipment.delivered" } }, { exact: { "data.phase": "delivered" } }] }], false],
    [[{ not: { exact: { "data.phase": "delivered" } } }], true],
    [[{ not: { exact: { "data.phase": "exception" } } }], false],
    // An attribute the event does not have matches nothing; so its `not` matches.
    [[{ exact: { "data.details.missing": "x" } }], false],
    [[{ not: { exact: { "data.details.missing": "x" } } }], true],
    [[{ not: { any: [{ prefix: { "data.details.carrier": "dhl" } }, { prefix: { "data.details.carrier": "fedex" } }] } }], true],
  ] as const)("%j → %s", async (filters, expected) => {
    const { rows } = await ctx.pool.query<{ m: boolean }>("SELECT hub_filter_matches($1::jsonb, $2::jsonb) AS m", [
      JSON.stringify(filters),
      JSON.stringify(event),
    ]);
    expect(rows[0]!.m).toBe(expected);
  });
});

describe("a filtered subscription", () => {
  it("gets only the events that match, and the others cost it no delivery row (drain and relay alike)", async () => {
    await ctx.startWorker();
    const filtered = await subscribe({
      eventTypes: ["reservation.*", "rental.*"],
      filters: [{ any: [{ exact: { "data.status": "taken" } }, { exact: { type: "rental.confirmed" } }] }],
    });
    expect(filtered.status).toBe(201);
    expect(filtered.body.filters).toEqual([{ any: [{ exact: { "data.status": "taken" } }, { exact: { type: "rental.confirmed" } }] }]);
    const everything = await subscribe({ eventTypes: ["reservation.*", "rental.*"] });
    subscriber.secrets.push(filtered.body.secret, everything.body.secret);

    const id = `filter-${randomUUID().slice(0, 8)}`;
    for (const state of ["created", "taken", "driving"]) expect((await postFlovi(ctx.app, statusChange(state, id))).status).toBe(202);
    // The filtered one gets `taken`, the other all three; then a rental event, through the relay.
    await eventually(async () => subscriber.received.length >= 4, 15_000, "the reservation's deliveries");
    const booking = `BK-${randomUUID().slice(0, 6)}`;
    await withTransaction(ctx.db, (sql) => writeEvents(sql, [rentalConfirmed(booking, 1, `filters:${booking}`)]));
    await relayBatch(ctx.db, 100);
    await eventually(async () => subscriber.received.length >= 6, 15_000, "every delivery");

    const rows = async (subscriptionId: string) =>
      (
        await ctx.pool.query<{ type: string }>(
          "SELECT e.type FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.subscription_id = $1 ORDER BY e.position",
          [subscriptionId],
        )
      ).rows.map((r) => r.type);
    expect(await rows(filtered.body.id)).toEqual(["reservation.taken", "rental.confirmed"]);
    expect(await rows(everything.body.id)).toEqual(["reservation.created", "reservation.taken", "reservation.driving", "rental.confirmed"]);

    // PATCH changes them; `[]` takes every event again.
    const patched = await request(ctx.app)
      .patch(`/subscriptions/${filtered.body.id}`)
      .set(auth)
      .send({ filters: [{ exact: { "data.status": "sealed" } }] });
    expect(patched.body.filters).toEqual([{ exact: { "data.status": "sealed" } }]);
    for (const state of ["sealed", "final_costs"]) expect((await postFlovi(ctx.app, statusChange(state, id))).status).toBe(202);
    await eventually(async () => (await rows(everything.body.id)).length === 6, 15_000, "the other two");
    expect(await rows(filtered.body.id)).toEqual(["reservation.taken", "rental.confirmed", "reservation.sealed"]);
    const audit = await ctx.prisma.auditLog.findFirstOrThrow({ where: { target: filtered.body.id, action: "subscription.update" } });
    expect(JSON.stringify(audit.details)).toContain("data.status");
    await request(ctx.app).delete(`/subscriptions/${filtered.body.id}`).set(auth);
    await request(ctx.app).delete(`/subscriptions/${everything.body.id}`).set(auth);
  }, 60_000);

  it("invalid filters are a 400 naming the place of each problem; nothing is created", async () => {
    const before = await ctx.prisma.subscription.count();
    const deep = (n: number): unknown => (n === 0 ? { exact: { type: "rental.confirmed" } } : { not: deep(n - 1) });
    const cases: [unknown, RegExp][] = [
      [{ exact: { type: "x" } }, /filters: Invalid input: expected array/],
      [[{ equals: { type: "x" } }], /filters\.0: unknown dialect "equals"; known: exact, prefix, suffix, all, any, not/],
      [[{ exact: { type: "x" }, prefix: { type: "y" } }], /filters\.0: exactly one dialect per filter/],
      [[{ exact: { type: "x", subject: "y" } }], /filters\.0\.exact: exactly one attribute/],
      [[{ exact: { colour: "red" } }], /filters\.0\.exact\.colour: an attribute: /],
      [[{ exact: { "data.": "x" } }], /filters\.0\.exact\.data\.: an attribute/],
      [[{ exact: { "data.status": 3 } }], /filters\.0\.exact\.data\.status: a string to compare with/],
      [[{ prefix: { subject: "" } }], /filters\.0\.prefix\.subject: an empty prefix matches everything/],
      [[{ any: [] }], /filters\.0\.any: at least one filter/],
      [[deep(6)], /filters nest 5 deep at most/],
    ];
    for (const [filters, message] of cases) {
      const res = await subscribe({ eventTypes: ["*"], filters });
      expect(res.status, JSON.stringify(filters)).toBe(400);
      expect(res.body.message, JSON.stringify(filters)).toMatch(message);
    }
    expect(await ctx.prisma.subscription.count()).toBe(before);
  });
});
