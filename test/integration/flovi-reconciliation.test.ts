import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFloviClient } from "../../src/providers/flovi/client.js";
import { reconcileReservations, reconcileStore } from "../../src/pipeline/flovi/reconcile.js";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { startFakeServer, type FakeServer, type Reply } from "../../scripts/lib/fakes/http-server.js";
import { floviError } from "../../scripts/lib/fakes/providers.js";
import { ageReservation, postFlovi, statusChange } from "../helpers/flovi.js";

const API_KEY = "flo_partner_test_key";
let ctx: TestContext;
let flovi: FakeServer;
const statuses = new Map<string, Reply>();

const RESERVATION_PATH = "/customers/v2/reservation";

beforeAll(async () => {
  flovi = await startFakeServer((req) => {
    const match = /^\/customers\/v2\/reservation\/([^/]+)$/.exec(req.path);
    if (req.headers["x-api-key"] !== API_KEY) {
      const e = floviError(401, "UNAUTHORIZED", "The x-api-key header is missing, expired, or invalid.", req.path);
      return { ...e, body: { ...(e.body as object), correlationId: "c-401" } };
    }
    const scripted = match ? statuses.get(decodeURIComponent(match[1]!)) : undefined;
    return scripted ?? floviError(404, "NOT_FOUND", "Reservation not found", req.path);
  });
  // The scheduled reconciler is off (interval 0): each test runs reconcileReservations itself, at a known moment.
  ctx = await createTestContext({ FLOVI_API_BASE_URL: flovi.url, FLOVI_API_KEY: API_KEY, FLOVI_RECONCILE_AFTER_MS: "60000", FLOVI_RECONCILE_INTERVAL_MS: "0" });
  await ctx.startWorker();
});
afterAll(async () => {
  await ctx.close();
  await flovi.close();
});

async function seed(id: string, state: string) {
  await postFlovi(ctx.app, statusChange(state, id));
  await eventually(() => ctx.prisma.reservation.findUnique({ where: { id } }), 10_000, `reservation ${id}`);
  // Its first event queued a look-up of its details (the fake answers 404): done before the test scripts the
  // API's answers and counts its requests, so that it is not taken for the reconciliation's.
  await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id } }))?.detailsFetchedAt, 10_000, `reservation ${id}'s details look-up`);
  // Silent for two hours.
  await ageReservation(ctx.db, id, new Date(Date.now() - 2 * 3600_000));
}

const reservationBody = (id: string, status: string) => ({
  reservationId: id,
  reservationType: "officeToOffice",
  status,
  externalId: `WO-${id}`,
  price: 100,
  currency: "EUR",
  priceBreakdown: [{ type: "base", amount: 100, label: "Base price" }],
  vehicle: { regNo: "ABC-123", make: "Toyota", model: "Corolla" },
});

function reconcile(apiKey = API_KEY) {
  return reconcileReservations({
    store: reconcileStore(ctx.db),
    client: createFloviClient({ baseUrl: flovi.url, apiKey, timeoutMs: 2_000 }),
    log: ctx.log,
    silentForMs: 60_000,
  });
}

describe("reconciliation against the Flovi Partner API", () => {
  it("applies a newer status found in the API as a reconciliation transition", async () => {
    await seed("900001", "taken");
    statuses.set("900001", { status: 200, body: reservationBody("900001", "sealed") });
    const result = await reconcile();
    expect(result.updated).toBeGreaterThanOrEqual(1);
    const reservation = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "900001" }, include: { transitions: true } });
    expect(reservation.state).toBe("sealed");
    expect(reservation.lastReconciledAt).toBeInstanceOf(Date);
    expect(reservation.transitions.at(-1)).toMatchObject({ source: "reconciliation", fromState: "taken", toState: "sealed", outcome: "applied" });
    const event = await ctx.prisma.event.findFirstOrThrow({ where: { entityId: "900001", type: "reservation.sealed" } });
    // The event carries what the API returned: the partner's reference, the billed price, the vehicle.
    expect((event.envelope as any).data).toMatchObject({
      externalId: "WO-900001",
      details: { source: "reconciliation", price: { amount: 100, currency: "EUR" }, vehicles: [{ regNo: "ABC-123" }] },
    });
    expect((event.envelope as any).data.details).not.toHaveProperty("finalCosts");
    const lookup = flovi.requests.find((r) => r.path === "/customers/v2/reservation/900001");
    expect(lookup?.headers["x-api-key"]).toBe(API_KEY);
  });

  it("changes nothing when the API is not ahead, and skips recently reconciled reservations", async () => {
    await seed("900002", "driving");
    statuses.set("900002", { status: 200, body: reservationBody("900002", "confirmed") });
    await reconcile();
    const after = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "900002" }, include: { transitions: true } });
    expect(after.state).toBe("driving");
    expect(after.transitions).toHaveLength(1);
    const calls = flovi.requests.filter((r) => r.path.endsWith("/900002")).length;
    await reconcile();
    expect(flovi.requests.filter((r) => r.path.endsWith("/900002")).length).toBe(calls);
  });

  it("maps cancelled; a 404 stops looking that reservation up, for good", async () => {
    await seed("900003", "created");
    await seed("900004", "created");
    statuses.delete("900003"); // 404 with Flovi's envelope
    statuses.set("900004", { status: 200, body: reservationBody("900004", "cancelled") });
    await reconcile();
    expect((await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "900004" } })).state).toBe("cancelled");
    const unknown = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "900003" } });
    expect(unknown.reconcileStoppedReason).toBe("NOT_FOUND: Reservation not found");
    // Silent again for hours: still never looked up again.
    await ctx.prisma.reservation.update({ where: { id: "900003" }, data: { lastReconciledAt: new Date(Date.now() - 3 * 3600_000) } });
    const calls = flovi.requests.filter((r) => r.path.endsWith("/900003")).length;
    await reconcile();
    expect(flovi.requests.filter((r) => r.path.endsWith("/900003")).length).toBe(calls);
  });

  it("a 403 on one reservation skips it and goes on with the others", async () => {
    // The oldest candidate is forbidden: before, it ended every run, so nothing behind it was ever reconciled.
    await seed("900007", "created");
    await seed("900008", "taken");
    await ctx.prisma.reservation.update({ where: { id: "900007" }, data: { lastChangedAt: new Date(Date.now() - 5 * 3600_000) } });
    statuses.set(
      "900007",
      floviError(403, "FORBIDDEN", "The API key is valid but you do not have permission to access the requested resource or customer store.", RESERVATION_PATH),
    );
    statuses.set("900008", { status: 200, body: reservationBody("900008", "sealed") });
    const result = await reconcile();
    expect(result.stoppedBy).toBeUndefined();
    expect(result.skipped).toBeGreaterThanOrEqual(1);
    expect((await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "900008" } })).state).toBe("sealed");
    const forbidden = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "900007" } });
    expect(forbidden.state).toBe("created");
    expect(forbidden.reconcileStoppedReason).toBeNull(); // tried again in a later run
  });

  it("a 429 ends the run, and no run starts before its Retry-After", async () => {
    await seed("900005", "created");
    await seed("900006", "created");
    statuses.set("900005", {
      ...floviError(429, "RATE_LIMITED", "You have exceeded the rate limit threshold.", RESERVATION_PATH),
      headers: { "retry-after": "30" },
    });
    statuses.set("900006", floviError(429, "RATE_LIMITED", "You have exceeded the rate limit threshold.", RESERVATION_PATH));
    const before = new Date();
    const result = await reconcile();
    const after = new Date();
    expect(result.stoppedBy).toBe("RATE_LIMITED");
    // The pause runs 30 s (Retry-After) from the provider's answer, which came between `before` and `after`.
    expect(result.pausedUntil!.getTime()).toBeGreaterThanOrEqual(before.getTime() + 30_000 - 1_000);
    expect(result.pausedUntil!.getTime()).toBeLessThanOrEqual(after.getTime() + 30_000);
    const untouched = await ctx.prisma.reservation.findMany({ where: { id: { in: ["900005", "900006"] } } });
    expect(untouched.some((r) => r.lastReconciledAt === null)).toBe(true);
    // The next run waits: it asks Flovi nothing.
    const calls = flovi.requests.length;
    const next = await reconcile();
    expect(next).toMatchObject({ checked: 0, stoppedBy: "RATE_LIMITED" });
    expect(flovi.requests.length).toBe(calls);
  });

  it("the client surfaces Flovi's error envelope with its correlationId", async () => {
    const client = createFloviClient({ baseUrl: flovi.url, apiKey: "wrong", timeoutMs: 2_000 });
    await expect(client.getReservation("1")).rejects.toMatchObject({
      name: "ProviderError",
      kind: "auth",
      httpStatus: 401,
      code: "UNAUTHORIZED",
      correlationId: "c-401",
    });
  });
});

describe("the scheduled reconciler", () => {
  it("runs on its job scheduler and applies what the API knows", async () => {
    const scheduled = await createTestContext({
      FLOVI_API_BASE_URL: flovi.url,
      FLOVI_API_KEY: API_KEY,
      FLOVI_RECONCILE_AFTER_MS: "1000",
      FLOVI_RECONCILE_INTERVAL_MS: "300",
    });
    try {
      await scheduled.startWorker();
      // Scripted before the reservation exists: a look-up answered 404 would stop looking it up for good.
      statuses.set("910001", { status: 200, body: reservationBody("910001", "cancelled") });
      await postFlovi(scheduled.app, statusChange("created", "910001"));
      await eventually(() => scheduled.prisma.reservation.findUnique({ where: { id: "910001" } }), 10_000, "created");
      const done = await eventually(
        async () => {
          const r = await scheduled.prisma.reservation.findUnique({ where: { id: "910001" } });
          return r?.state === "cancelled" ? r : undefined;
        },
        15_000,
        "reconciled by the scheduler",
      );
      expect(done.lastReconciledAt).toBeInstanceOf(Date);
    } finally {
      await scheduled.close();
    }
  });
});
