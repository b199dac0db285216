// Overdue final costs, end to end through the running worker's schedule: a reservation sealed longer ago than
// FLOVI_FINAL_COSTS_OVERDUE_MS emits reservation.final_costs_overdue once (with the Partner API's price when a
// key is set), the console shows it, and a later final_costs webhook is applied as usual.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { floviReservation, startFakeFlovi, FLOVI_API_KEY, type FakeFlovi } from "../../scripts/lib/fakes/providers.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { ageReservation, postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const DAY = 86_400_000;
let flovi: FakeFlovi;
let sub: Subscriber;
const contexts: TestContext[] = [];
beforeAll(async () => {
  flovi = await startFakeFlovi();
  sub = await startSubscriber();
});
afterAll(async () => {
  for (const ctx of contexts) await ctx.close();
  await sub.close();
  await flovi.close();
});

async function world(env: Record<string, string>) {
  const ctx = await createTestContext({ FLOVI_RECONCILE_INTERVAL_MS: "200", ...env });
  contexts.push(ctx);
  await ctx.startWorker();
  await subscribe(ctx.app, sub, ["reservation.*"]);
  return ctx;
}

/** A reservation walked to `sealed` by webhooks, then aged: sealed `daysAgo` days ago. */
async function sealed(ctx: TestContext, id: string, daysAgo: number) {
  // Sent with the current time: a state dated months back would be overdue the moment it is applied, before
  // this helper ages it (the schedule runs every 200 ms).
  for (const state of ["created", "taken", "driving", "sealed"]) await postFlovi(ctx.app, statusChange(state, id, { occurredAt: new Date().toISOString() }));
  await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id } }))?.state === "sealed", 10_000, `${id} sealed`);
  await ageReservation(ctx.db, id, new Date(Date.now() - daysAgo * DAY));
}

const received = (id: string, type: string) => sub.received.filter((r) => r.event.subject === `reservation/${id}` && r.event.type === type);

describe("reservation.final_costs_overdue", () => {
  it("is emitted once with the API's price, shows in the console, and a later final_costs webhook is applied as usual", async () => {
    const ctx = await world({ FLOVI_API_BASE_URL: flovi.url, FLOVI_API_KEY });
    flovi.reservations.set("4711001", floviReservation("4711001", "sealed", { createdAt: new Date().toISOString() }));
    await sealed(ctx, "4711001", 17);
    await sealed(ctx, "4711002", 3); // sealed recently: not overdue
    await eventually(async () => received("4711001", "reservation.final_costs_overdue").length > 0, 15_000, "overdue delivered");
    const [overdue] = received("4711001", "reservation.final_costs_overdue");
    const sealedEvent = received("4711001", "reservation.sealed")[0]!;
    expect(overdue!.event.data.sequence).toBeGreaterThan(sealedEvent.event.data.sequence);
    expect(overdue!.event.data).toMatchObject({
      status: "sealed",
      previousStatus: "sealed",
      details: {
        price: {
          amount: 154.2,
          currency: "EUR",
          amountMinor: 15420,
          breakdown: [
            { type: "base", label: "Base price", amount: 120, currency: "EUR", amountMinor: 12000 },
            { type: "fuel", label: "Fuel", amount: 34.2, currency: "EUR", amountMinor: 3420 },
          ],
        },
      },
    });
    // More runs of the schedule emit nothing more, and the recent one stays quiet.
    await ctx.jobsCompleted("flag-overdue-final-costs", 3);
    expect(await ctx.prisma.event.count({ where: { entityId: "4711001", type: "reservation.final_costs_overdue" } })).toBe(1);
    expect(await ctx.prisma.event.count({ where: { entityId: "4711002", type: "reservation.final_costs_overdue" } })).toBe(0);

    const page = await request(ctx.app)
      .get("/admin/console/reservations/4711001")
      .set("authorization", `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`);
    expect(page.text).toContain("data-overdue");
    const view = await request(ctx.app).get("/reservations/4711001").set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`);
    expect(view.body.finalCostsOverdueAt).toBeTruthy();

    await postFlovi(ctx.app, statusChange("final_costs", "4711001", { price: 160, currency: "EUR" }));
    await eventually(async () => received("4711001", "reservation.final_costs").length > 0, 10_000, "final costs delivered");
    const finalCosts = received("4711001", "reservation.final_costs")[0]!.event.data;
    expect(finalCosts).toMatchObject({ status: "final_costs", previousStatus: "sealed" });
    // After the overdue event (its details look-up may land anywhere in between): one sequence per event.
    expect(finalCosts.sequence).toBeGreaterThan(overdue!.event.data.sequence);
    const sequences = sub.received.filter((r) => r.event.subject === "reservation/4711001").map((r) => `${r.event.id}:${r.event.data.sequence}`);
    const distinct = new Map(sequences.map((x) => [x.split(":")[0], x.split(":")[1]]));
    expect(new Set(distinct.values()).size).toBe(distinct.size);
  });

  it("without an API key it is emitted all the same, without a price", async () => {
    const ctx = await world({});
    await sealed(ctx, "4711101", 20);
    await eventually(async () => received("4711101", "reservation.final_costs_overdue").length > 0, 15_000, "overdue delivered");
    const details = received("4711101", "reservation.final_costs_overdue")[0]!.event.data.details as Record<string, unknown>;
    expect(details).not.toHaveProperty("price");
    expect(details).toMatchObject({ overdueAfterMs: 16 * DAY });
  });
});
