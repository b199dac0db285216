// The Partner API paths end to end in the real processes (`src/main.ts api|worker`): details fetched after a
// reservation's first event, a reservation only Flovi's list knows found by the backfill, and final costs
// overdue, each reaching a verifying subscriber once.
import { afterEach, describe, expect, it } from "vitest";
import { floviReservation, startFakeFlovi, FLOVI_API_KEY, type FakeFlovi } from "../../scripts/lib/fakes/providers.js";
import { createWorld, sendWebhooks, subscribeAll, until, type World } from "./harness.js";

let world: World | undefined;
let flovi: FakeFlovi | undefined;
afterEach(async () => {
  await world?.close();
  await flovi?.close();
  world = undefined;
  flovi = undefined;
});

describe("Flovi Partner API, real processes", () => {
  it("details, backfill and overdue final costs reach the subscriber once each", async () => {
    flovi = await startFakeFlovi();
    // The first worker runs no reconciliation schedule: the webhooks of 2200001 are applied before any
    // backfill could see it (the order of the real world: the webhooks come as the reservation moves).
    world = await createWorld({ env: { FLOVI_API_BASE_URL: flovi.url, FLOVI_API_KEY, FLOVI_RECONCILE_INTERVAL_MS: "0" } });
    await world.startApi();
    await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const types = (id: string) => w.subscriber.received.filter((r) => r.event.subject === `reservation/${id}`).map((r) => r.event.type);

    flovi.reservations.set("2200001", floviReservation("2200001", "sealed"));
    const sent = await sendWebhooks(w, ["2200001"], { states: ["created", "taken", "driving", "sealed"], concurrency: 1 });
    expect(sent.accepted.size).toBe(4);
    await until(
      () => types("2200001").includes("reservation.updated") && types("2200001").includes("reservation.sealed"),
      "details and sealed delivered",
      30_000,
    );

    // Created three hours ago, and no webhook of it ever came: a second worker runs the schedule.
    flovi.reservations.set("2200002", floviReservation("2200002", "confirmed", { createdAt: new Date(Date.now() - 3 * 3_600_000).toISOString() }));
    await w.startWorker({ FLOVI_RECONCILE_INTERVAL_MS: "500" });
    await until(() => types("2200002").includes("reservation.created"), "the list-only reservation found", 30_000);

    await w.db.query("UPDATE reservations SET last_changed_at = now() - interval '17 days' WHERE id = '2200001'");
    await until(() => types("2200001").includes("reservation.final_costs_overdue"), "overdue delivered", 30_000);

    const overdue = w.subscriber.received.find((r) => r.event.subject === "reservation/2200001" && r.event.type === "reservation.final_costs_overdue")!;
    expect(overdue.event.data).toMatchObject({ status: "sealed", details: { price: { amount: 154.2, currency: "EUR" }, route: { distanceMeters: 182000 } } });
    // Its own event (the subscription is unordered: its details' reservation.updated may arrive first).
    const found = w.subscriber.received.find((r) => r.event.subject === "reservation/2200002" && r.event.type === "reservation.created")!;
    expect(found.event.data.details).toMatchObject({ source: "reconciliation" });
    // Each event once (by id), and one sequence per event.
    for (const id of ["2200001", "2200002"]) {
      const events = w.subscriber.received.filter((r) => r.event.subject === `reservation/${id}`);
      const byId = new Map(events.map((r) => [r.event.id, r.event.data.sequence]));
      expect(new Set(byId.values()).size).toBe(byId.size);
      expect(types(id).filter((t) => t === "reservation.final_costs_overdue").length).toBeLessThanOrEqual(1);
    }
    expect([...new Set(types("2200001"))].sort()).toEqual(
      [
        "reservation.created",
        "reservation.driving",
        "reservation.final_costs_overdue",
        "reservation.sealed",
        "reservation.taken",
        "reservation.updated",
      ].sort(),
    );
  });
});
