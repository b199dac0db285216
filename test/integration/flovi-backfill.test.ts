// The backfill: reservations that no webhook told us about, found in Flovi's list endpoint (a fake built from
// the Partner API v2 document: newest first, `start`/`nextStart`, `limit` ≤ 100), each state emitted once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createFloviClient } from "../../src/providers/flovi/client.js";
import { backfillFromList } from "../../src/pipeline/flovi/backfill.js";
import { floviError, floviReservation, FLOVI_API_KEY, type FakeFlovi } from "../../scripts/lib/fakes/providers.js";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { ageReservation, postFlovi, statusChange } from "../helpers/flovi.js";
import { contextWithFloviApi, type Subscriber } from "../helpers/subscriber.js";

let ctx: TestContext;
let flovi: FakeFlovi;
let sub: Subscriber;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ ctx, sub, flovi, close } = await contextWithFloviApi());
});
afterAll(() => close());
beforeEach(async () => {
  flovi.reservations.clear();
  flovi.server.requests.length = 0;
  await ctx.pool.query("DELETE FROM flovi_backfill");
  await ctx.pool.query("DELETE FROM provider_states");
});

const client = () => createFloviClient({ baseUrl: flovi.url, apiKey: FLOVI_API_KEY, timeoutMs: 2_000 });
const backfill = (maxPagesPerRun = 10) => backfillFromList({ db: ctx.db, client: client(), log: ctx.log, lookbackMs: 365 * 86_400_000, maxPagesPerRun });
const eventsOf = (id: string) => ctx.prisma.event.findMany({ where: { entity: "reservation", entityId: id }, orderBy: { sequence: "asc" } });

describe("backfill through GET /customers/v2/reservations", () => {
  it("a reservation present only in the API's list is emitted once, however many passes run, and reaches a subscriber", async () => {
    flovi.reservations.set("7000001", floviReservation("7000001", "confirmed"));
    for (let pass = 0; pass < 3; pass++) await backfill();
    const events = await eventsOf("7000001");
    expect(events.map((e) => e.type)).toEqual(["reservation.created"]);
    expect((events[0]!.envelope as { data: { details: unknown; externalId: string } }).data).toMatchObject({
      externalId: "WO-7000001",
      details: { source: "reconciliation" },
    });
    const reservation = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "7000001" }, include: { transitions: true } });
    expect(reservation.transitions).toHaveLength(1); // passes that saw nothing new wrote nothing
    await eventually(async () => sub.received.some((r) => r.event.subject === "reservation/7000001"), 10_000, "delivered");
  });

  it("a known reservation whose state moved without a webhook gets that state from the page, with no look-up of its own", async () => {
    await postFlovi(ctx.app, statusChange("created", "7000100"));
    // Its details look-up (once, after the first event) is done before the backfill runs.
    await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id: "7000100" } }))?.detailsFetchedAt != null, 10_000, "created");
    flovi.reservations.set("7000100", floviReservation("7000100", "cancelled"));
    flovi.server.requests.length = 0;
    await backfill();
    expect((await eventsOf("7000100")).map((e) => e.type)).toEqual(["reservation.created", "reservation.cancelled"]);
    expect(flovi.server.requests.filter((r) => r.path.startsWith("/customers/v2/reservation/"))).toHaveLength(0);
    // The webhook that was lost, arriving late, emits nothing more.
    await postFlovi(ctx.app, statusChange("cancelled", "7000100"));
    await ctx.settled();
    expect(await eventsOf("7000100")).toHaveLength(2);
  });

  it("250 reservations: pages of at most 100 followed through nextStart to the end, every one emitted once", async () => {
    for (let i = 0; i < 250; i++) flovi.reservations.set(String(8_000_000 + i), floviReservation(String(8_000_000 + i), "sealed"));
    const result = await backfill();
    expect(result).toMatchObject({ pages: 3, seen: 250, discovered: 250, passEnded: true });
    const lists = flovi.server.requests.filter((r) => r.path === "/customers/v2/reservations");
    expect(lists.map((r) => Number(r.query.get("limit")))).toEqual([100, 100, 100]);
    expect(lists.map((r) => r.query.get("start"))).toEqual([null, "8000150", "8000050"]);
    const { rows } = await ctx.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE entity = 'reservation' AND entity_id::bigint BETWEEN 8000000 AND 8000249",
    );
    expect(Number(rows[0]!.n)).toBe(250);
  });

  it("remembers how far it looked: a pass longer than the page budget resumes where it stopped", async () => {
    for (let i = 0; i < 250; i++) flovi.reservations.set(String(9_000_000 + i), floviReservation(String(9_000_000 + i), "confirmed"));
    expect(await backfill(1)).toMatchObject({ pages: 1, discovered: 100, passEnded: false });
    expect(await backfill(1)).toMatchObject({ pages: 1, discovered: 100, passEnded: false });
    expect(await backfill(1)).toMatchObject({ pages: 1, discovered: 50, passEnded: true });
    const starts = flovi.server.requests.filter((r) => r.path === "/customers/v2/reservations").map((r) => r.query.get("start"));
    expect(starts).toEqual([null, "9000150", "9000050"]);
    // The next pass starts from the top again, and finds nothing new.
    expect(await backfill()).toMatchObject({ discovered: 0, moved: 0, passEnded: true });
  });

  it("429 pauses it until Retry-After and keeps the page to resume from; 401 stops the run", async () => {
    for (let i = 0; i < 150; i++) flovi.reservations.set(String(6_000_000 + i), floviReservation(String(6_000_000 + i), "confirmed"));
    flovi.failNext(
      { ...floviError(429, "TOO_MANY_REQUESTS", "Rate limit exceeded", "/customers/v2/reservations"), headers: { "retry-after": "120" } },
      1,
      /reservations$/,
    );
    const limited = await backfill();
    expect(limited).toMatchObject({ pages: 0, stoppedBy: "TOO_MANY_REQUESTS" });
    expect(limited.pausedUntil!.getTime()).toBeGreaterThan(Date.now() + 100_000);
    expect(await backfill()).toMatchObject({ pages: 0, stoppedBy: "RATE_LIMITED" }); // paused: no call at all
    await ctx.pool.query("DELETE FROM provider_states");
    const refused = await backfillFromList({
      db: ctx.db,
      client: createFloviClient({ baseUrl: flovi.url, apiKey: "wrong", timeoutMs: 2_000 }),
      log: ctx.log,
      lookbackMs: 1e12,
      maxPagesPerRun: 10,
    });
    expect(refused).toMatchObject({ pages: 0, stoppedBy: "UNAUTHORIZED" });
    expect(await backfill()).toMatchObject({ discovered: 150, passEnded: true });
  });

  it("leaves alone what a webhook may still be bringing: a reservation created moments ago, a known one changed moments ago", async () => {
    flovi.reservations.set("7100001", floviReservation("7100001", "sealed", { createdAt: new Date().toISOString() }));
    await postFlovi(ctx.app, statusChange("created", "7100002", { occurredAt: new Date().toISOString() }));
    await eventually(() => ctx.prisma.reservation.findUnique({ where: { id: "7100002" } }), 10_000, "created");
    flovi.reservations.set("7100002", floviReservation("7100002", "driving"));
    const quiet = () => backfillFromList({ db: ctx.db, client: client(), log: ctx.log, lookbackMs: 1e12, maxPagesPerRun: 10, silentForMs: 3_600_000 });
    expect(await quiet()).toMatchObject({ discovered: 0, moved: 0 });
    expect(await ctx.prisma.reservation.findUnique({ where: { id: "7100001" } })).toBeNull();
    expect((await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: "7100002" } })).state).toBe("created");
    // An hour later (as far as the hub can tell), both are taken from the list.
    flovi.reservations.set("7100001", floviReservation("7100001", "sealed", { createdAt: new Date(Date.now() - 2 * 3_600_000).toISOString() }));
    await ageReservation(ctx.db, "7100002", new Date(Date.now() - 2 * 3_600_000));
    expect(await quiet()).toMatchObject({ discovered: 1, moved: 1 });
  });

  it("a reservation with a webhook waiting in the inbox is left to the drain, which applies it in receipt order", async () => {
    // A context whose worker starts later: the stored `created` waits in the inbox meanwhile.
    const own = await createTestContext({ FLOVI_API_BASE_URL: flovi.url, FLOVI_API_KEY, FLOVI_RECONCILE_INTERVAL_MS: "0" });
    try {
      flovi.reservations.set("7200001", floviReservation("7200001", "sealed"));
      expect((await postFlovi(own.app, statusChange("created", "7200001"))).status).toBe(202);
      const result = await backfillFromList({ db: own.db, client: client(), log: own.log, lookbackMs: 1e12, maxPagesPerRun: 10 });
      expect(result).toMatchObject({ seen: 1, discovered: 0 });
      expect(await own.prisma.reservation.findUnique({ where: { id: "7200001" } })).toBeNull();
      await own.startWorker();
      await eventually(
        async () => (await own.prisma.reservation.findUnique({ where: { id: "7200001" } }))?.state === "created",
        10_000,
        "the drain applied it",
      );
    } finally {
      await own.close();
    }
  });

  it("a pass ends at reservations created before the look-back", async () => {
    flovi.reservations.set("5000002", floviReservation("5000002", "confirmed", { createdAt: new Date().toISOString() }));
    for (let i = 0; i < 150; i++)
      flovi.reservations.set(String(5_000_000 - i), floviReservation(String(5_000_000 - i), "sealed", { createdAt: "2025-01-01T00:00:00Z" }));
    const result = await backfillFromList({ db: ctx.db, client: client(), log: ctx.log, lookbackMs: 30 * 86_400_000, maxPagesPerRun: 10 });
    // The first page holds the new one and 99 old ones; the second is all old: the pass ends there.
    expect(result).toMatchObject({ pages: 2, passEnded: true });
    expect(flovi.server.requests.filter((r) => r.path === "/customers/v2/reservations")).toHaveLength(2);
  });
});
