import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { applyStoredDelivery } from "../../src/pipeline/flovi/apply-stored.js";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
});
afterAll(() => ctx.close());

async function deliver(body: unknown): Promise<string> {
  const res = await postFlovi(ctx.app, body);
  expect(res.status).toBe(202);
  const id: string = res.body.id;
  await eventually(async () => (await ctx.prisma.inboundDelivery.findUnique({ where: { id } }))?.status === "processed", 10_000, `delivery ${id} processed`);
  return id;
}

const events = (id: string) => ctx.prisma.event.findMany({ where: { entity: "reservation", entityId: id }, orderBy: { sequence: "asc" } });
const view = async (id: string) => (await request(ctx.app).get(`/reservations/${id}`).set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)).body;

describe("reservation state from Flovi deliveries", () => {
  it("walks a reservation through every state, one event per state with increasing sequence", async () => {
    const id = "r-life";
    for (const state of ["created", "taken", "driving", "sealed"]) await deliver(statusChange(state, id, { externalId: "WO-77" }));
    await deliver(
      statusChange("final_costs", id, {
        price: 210.5,
        currency: "EUR",
        vehicles: [{ regNo: "ABC-123", make: "Toyota" }],
      }),
    );
    const rows = await events(id);
    expect(rows.map((e) => e.type)).toEqual([
      "reservation.created",
      "reservation.taken",
      "reservation.driving",
      "reservation.sealed",
      "reservation.final_costs",
    ]);
    expect(rows.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5]);
    const last = rows.at(-1)!.envelope as Record<string, any>;
    expect(last).toMatchObject({
      specversion: "1.0",
      source: "flovi",
      type: "reservation.final_costs",
      subject: `reservation/${id}`,
      datacontenttype: "application/json",
      data: {
        entity: "reservation",
        entityId: id,
        externalId: "WO-77",
        status: "final_costs",
        previousStatus: "sealed",
        phase: "completed",
        providerStatus: "final_costs",
        sequence: 5,
        timeSource: "provider",
        details: { finalCosts: { amount: 210.5, currency: "EUR", amountMinor: 21050 }, vehicles: [{ regNo: "ABC-123", make: "Toyota" }] },
      },
    });
    const reservation = await view(id);
    expect(reservation).toMatchObject({
      state: "final_costs",
      externalId: "WO-77",
      finalCosts: { amount: 210.5, currency: "EUR", amountMinor: 21050 },
      finalCostsAsSent: { price: 210.5 },
      vehicles: [{ regNo: "ABC-123" }],
    });
    expect(reservation.transitions.map((t: { to: string }) => t.to)).toEqual(["created", "taken", "driving", "sealed", "final_costs"]);
    expect(reservation.events).toHaveLength(5);
    // Each transition names the stored webhook that caused it; the old field name stays for one release.
    const stored = await ctx.prisma.inboundDelivery.findMany({ where: { orderingKey: id }, orderBy: { seq: "asc" }, select: { id: true } });
    expect(reservation.transitions.map((t: { inboundDeliveryId: string }) => t.inboundDeliveryId)).toEqual(stored.map((d) => d.id));
    for (const t of reservation.transitions) expect(t.deliveryId).toBe(t.inboundDeliveryId);
  });

  it("records an older state arriving late as stale and emits nothing", async () => {
    const id = "r-order";
    await deliver(statusChange("driving", id));
    await deliver(statusChange("taken", id));
    await deliver(statusChange("created", id));
    expect((await events(id)).map((e) => e.type)).toEqual(["reservation.driving"]);
    const reservation = await view(id);
    expect(reservation.state).toBe("driving");
    expect(reservation.transitions.map((t: { outcome: string }) => t.outcome)).toEqual(["applied", "stale", "stale"]);
  });

  it("keeps the cancellation reason and treats cancelled as terminal except for costs", async () => {
    const id = "r-cancel";
    await deliver(statusChange("taken", id));
    await deliver(statusChange("cancelled", id, { cancellation_reason: "DRIVER_CANCELED_OR_NOT_ARRIVED" }));
    await deliver(statusChange("driving", id));
    await deliver(statusChange("final_costs", id, { price: 35, currency: "EUR" }));
    const rows = await events(id);
    expect(rows.map((e) => e.type)).toEqual(["reservation.taken", "reservation.cancelled", "reservation.final_costs"]);
    expect((rows[1]!.envelope as any).data).toMatchObject({
      status: "cancelled",
      phase: "cancelled",
      details: { cancellationReason: "DRIVER_CANCELED_OR_NOT_ARRIVED" },
    });
    expect((rows[2]!.envelope as any).data).toMatchObject({ status: "final_costs", previousStatus: "cancelled", phase: "cancelled" });
    const reservation = await view(id);
    expect(reservation).toMatchObject({
      state: "cancelled",
      cancellationReason: "DRIVER_CANCELED_OR_NOT_ARRIVED",
      finalCosts: { amount: 35, currency: "EUR", amountMinor: 3500 },
    });
    expect(reservation.transitions.map((t: { outcome: string }) => t.outcome)).toEqual(["applied", "applied", "ignored_after_terminal", "costs_after_cancel"]);
  });

  it("a repeated state with a different body is history, not a second event", async () => {
    const id = "r-repeat";
    await deliver(statusChange("created", id));
    await deliver(statusChange("created", id, { note: "resent" }));
    expect(await events(id)).toHaveLength(1);
    expect((await view(id)).transitions.map((t: { outcome: string }) => t.outcome)).toEqual(["applied", "repeated"]);
  });

  it("processing the same delivery again changes nothing (retry, replay, crash between commit and ack)", async () => {
    const id = "r-idem";
    const deliveryId = await deliver(statusChange("created", id));
    const before = { events: await ctx.prisma.event.count(), transitions: await ctx.prisma.reservationTransition.count() };
    const again = await applyStoredDelivery({ db: ctx.db }, deliveryId);
    expect(again).toEqual({ kind: "already_done", status: "processed" });
    // The job again, as a BullMQ retry after a lost ack would run it: wait until it has actually run.
    const job = await ctx.queues.get("flovi-events").add("process-delivery", { inboundDeliveryId: deliveryId }, { jobId: `flovi-${deliveryId}-again` });
    await eventually(async () => await job.isCompleted(), 10_000, "the repeated job completed");
    expect({ events: await ctx.prisma.event.count(), transitions: await ctx.prisma.reservationTransition.count() }).toEqual(before);
  });

  it("concurrent deliveries for one new reservation serialize: one reservation, distinct sequences", async () => {
    const id = "r-concurrent";
    await Promise.all(["created", "taken", "driving", "sealed"].map((s) => postFlovi(ctx.app, statusChange(s, id))));
    await eventually(async () => (await ctx.prisma.reservationTransition.count({ where: { reservationId: id } })) === 4, 10_000, "4 transitions");
    const rows = await events(id);
    expect(rows.map((e) => e.sequence)).toEqual(rows.map((_, i) => i + 1));
    expect((await view(id)).state).toBe("sealed");
  });

  it("answers 404 for an unknown reservation and 401 without the token", async () => {
    expect((await request(ctx.app).get("/reservations/nope").set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)).status).toBe(404);
    expect((await request(ctx.app).get("/reservations/r-life")).status).toBe(401);
    expect((await request(ctx.app).get("/reservations/r-life").set("authorization", "Bearer wrong-token-wrong-token")).status).toBe(401);
  });
});
