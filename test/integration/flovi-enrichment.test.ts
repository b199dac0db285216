// Events that carry the whole reservation: after a reservation's first report the worker fetches its details
// from the Partner API (a fake built from the document) once; one reservation.updated brings them, and every
// later event carries them. A reason that arrives after a reconciled cancellation reaches subscribers too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfillFromList } from "../../src/pipeline/flovi/backfill.js";
import { createFloviClient } from "../../src/providers/flovi/client.js";
import { floviReservation, FLOVI_API_KEY, type FakeFlovi } from "../../scripts/lib/fakes/providers.js";
import { eventually, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { contextWithFloviApi, type Subscriber } from "../helpers/subscriber.js";

let ctx: TestContext;
let flovi: FakeFlovi;
let sub: Subscriber;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ ctx, sub, flovi, close } = await contextWithFloviApi());
});
afterAll(() => close());

const events = (id: string) =>
  sub.received.filter((r) => r.event.subject === `reservation/${id}`).sort((a, b) => a.event.data.sequence - b.event.data.sequence);
const lookups = (id: string) => flovi.server.requests.filter((r) => r.path === `/customers/v2/reservation/${id}`).length;

describe("reservation details from the Partner API", () => {
  it("the first event goes out at once; one reservation.updated brings the details; every later event carries them", async () => {
    flovi.reservations.set("3100001", floviReservation("3100001", "confirmed"));
    await postFlovi(ctx.app, statusChange("created", "3100001"));
    await eventually(async () => events("3100001").some((r) => r.event.type === "reservation.updated"), 10_000, "details delivered");
    const [created, updated] = events("3100001");
    expect(created!.event).toMatchObject({ type: "reservation.created", data: { sequence: 1 } });
    expect(updated!.event.data).toMatchObject({
      status: "created",
      previousStatus: "created",
      sequence: 2,
      details: {
        reservationType: "officeToOffice",
        schedule: { departAtEarliest: "2026-11-02T08:00:00.000Z", arriveAtLatest: "2026-11-02T14:00:00.000Z" },
        route: { distanceMeters: 182000, durationSeconds: 7200 },
        origin: { officeId: "off-1", lat: 38.72, lng: -9.14, address: { city: "Lisboa" } },
        destination: { officeId: null, address: { city: "Porto" } },
        vehicle: { regNo: "AB-12-CD" },
        updated: ["reservationType", "schedule", "route", "origin", "destination", "vehicle"],
      },
    });
    await postFlovi(ctx.app, statusChange("taken", "3100001"));
    await postFlovi(ctx.app, statusChange("driving", "3100001"));
    await eventually(async () => events("3100001").length === 4, 10_000, "taken and driving delivered");
    for (const later of events("3100001").slice(2))
      expect(later.event.data.details).toMatchObject({ route: { distanceMeters: 182000 }, schedule: { departAtLatest: "2026-11-02T10:00:00.000Z" } });
    await ctx.settled();
    expect(lookups("3100001")).toBe(1); // once per reservation
    expect(events("3100001").filter((r) => r.event.type === "reservation.updated")).toHaveLength(1);
  });

  it("a reservation Flovi does not know (404): no details, no updated event, and its events go on", async () => {
    await postFlovi(ctx.app, statusChange("created", "3100404"));
    await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id: "3100404" } }))?.detailsFetchedAt != null, 10_000, "look-up ended");
    const row = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "3100404" } });
    expect(row.detailsUnavailable).toMatch(/NOT_FOUND/);
    await postFlovi(ctx.app, statusChange("taken", "3100404"));
    await eventually(async () => events("3100404").length === 2, 10_000, "taken delivered");
    expect(events("3100404").map((r) => r.event.type)).toEqual(["reservation.created", "reservation.taken"]);
  });

  it("a cancellation learnt from the API has no reason; the webhook that brings it later sends a reservation.updated with the reason", async () => {
    flovi.reservations.set("3100500", floviReservation("3100500", "cancelled"));
    await backfillFromList({
      db: ctx.db,
      client: createFloviClient({ baseUrl: flovi.url, apiKey: FLOVI_API_KEY, timeoutMs: 2_000 }),
      log: ctx.log,
      lookbackMs: 1e12,
      maxPagesPerRun: 10,
    });
    await eventually(async () => events("3100500").some((r) => r.event.type === "reservation.cancelled"), 10_000, "cancelled delivered");
    await postFlovi(ctx.app, statusChange("cancelled", "3100500", { cancellation_reason: "NO_DRIVER_WAS_FOUND" }));
    await eventually(
      async () =>
        events("3100500").some((r) => r.event.type === "reservation.updated" && (r.event.data.details as { cancellationReason?: string }).cancellationReason),
      10_000,
      "reason delivered",
    );
    const withReason = events("3100500").find((r) => (r.event.data.details as { cancellationReason?: string }).cancellationReason)!;
    expect(withReason.event.data).toMatchObject({ status: "cancelled", previousStatus: "cancelled", details: { cancellationReason: "NO_DRIVER_WAS_FOUND" } });
    expect((await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "3100500" } })).cancellationReason).toBe("NO_DRIVER_WAS_FOUND");
    // The same webhook again changes nothing.
    await postFlovi(ctx.app, statusChange("cancelled", "3100500", { cancellation_reason: "NO_DRIVER_WAS_FOUND" }));
    await ctx.settled();
    expect(events("3100500").filter((r) => (r.event.data.details as { cancellationReason?: string }).cancellationReason)).toHaveLength(1);
  });
});
