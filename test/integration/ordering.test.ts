// Every state of every reservation reaches subscribers once, in receipt order, with sequence 1..5, while two
// independent worker runtimes (each its own drainer, pool and BullMQ workers) compete for the inbox.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const STATES = ["created", "taken", "driving", "sealed", "final_costs"];
let ctx: TestContext;
let sub: Subscriber;

beforeAll(async () => {
  ctx = await createTestContext({ DATABASE_POOL_SIZE: "10" });
  await ctx.startWorker();
  await ctx.startWorker();
  sub = await startSubscriber();
  await subscribe(ctx.app, sub, ["reservation.*"]);
});
afterAll(async () => {
  await ctx.close();
  await sub.close();
});

/** Posts the five states of one reservation, each only after the previous one was answered 202. */
async function walk(reservationId: string) {
  for (const state of STATES) {
    const res = await postFlovi(ctx.app, statusChange(state, reservationId, state === "final_costs" ? { price: 99, currency: "EUR" } : {}));
    expect(res.status).toBe(202);
  }
}

describe("ordered processing", () => {
  it("many reservations walking their states at once: each state emitted once, sequence 1..5, none stale", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `ord-${i}-${randomUUID().slice(0, 6)}`);
    await Promise.all(ids.map(walk));

    await eventually(async () => new Set(sub.received.map((r) => r.event.id)).size >= ids.length * STATES.length, 30_000, "every event delivered");
    for (const id of ids) {
      const mine = sub.received.filter((r) => r.event.subject === `reservation/${id}`);
      const byId = new Map(mine.map((r) => [r.event.id, r.event]));
      const ordered = [...byId.values()].sort((a, b) => a.data.sequence - b.data.sequence);
      expect(ordered.map((e) => e.data.sequence)).toEqual([1, 2, 3, 4, 5]);
      expect(ordered.map((e) => e.data.status)).toEqual(STATES);
    }
    const transitions = await ctx.prisma.reservationTransition.groupBy({ by: ["outcome"], where: { reservationId: { in: ids } }, _count: true });
    expect(transitions).toEqual([{ outcome: "applied", _count: ids.length * STATES.length }]);
  });

  it("stale means received after a higher state, and is history only", async () => {
    const id = `ord-stale-${randomUUID().slice(0, 6)}`;
    for (const state of ["created", "driving", "taken"]) expect((await postFlovi(ctx.app, statusChange(state, id))).status).toBe(202);
    const rows = await eventually(
      async () => {
        const t = await ctx.prisma.reservationTransition.findMany({ where: { reservationId: id }, orderBy: { id: "asc" } });
        return t.length === 3 ? t : undefined;
      },
      10_000,
      "three transitions",
    );
    expect(rows.map((t) => [t.toState, t.outcome])).toEqual([
      ["created", "applied"],
      ["driving", "applied"],
      ["taken", "stale"],
    ]);
    expect(await ctx.prisma.event.count({ where: { subject: `reservation/${id}` } })).toBe(2);
  });

  it("a row that cannot be written is set aside as failed; the rows after it, and other reservations, go on", async () => {
    const id = `ord-poison-${randomUUID().slice(0, 6)}`;
    const other = `ord-other-${randomUUID().slice(0, 6)}`;
    // A stored row whose write fails on the database side: a leftover event already holds the dedupe key its
    // event would take (23505, a unique violation), as a half-restored backup could leave it.
    const poison = Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: id, state: "created" }));
    const [stored] = await ctx.prisma.$queryRawUnsafe<{ id: string }[]>(
      `INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, status, ordering_key)
       VALUES (gen_random_uuid(), 'flovi', md5(random()::text), $1, '{}', 'received', $2) RETURNING id`,
      poison,
      id,
    );
    await ctx.prisma.$executeRawUnsafe(
      `INSERT INTO events (id, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope)
       VALUES (gen_random_uuid(), 'flovi', 'reservation.created', 'reservation/leftover', 'reservation', 'leftover', 1, now(), $1, '{}')`,
      `flovi:delivery:${stored!.id}`,
    );
    await postFlovi(ctx.app, statusChange("taken", id));
    await postFlovi(ctx.app, statusChange("created", other));

    const failed = await eventually(
      async () => {
        const row = await ctx.prisma.inboundDelivery.findUnique({ where: { id: stored!.id } });
        return row?.status === "failed" ? row : undefined;
      },
      15_000,
      "the poison row set aside",
    );
    expect(failed.statusReason).toContain("could not be applied");
    await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id } }))?.state === "taken", 10_000, "the next row applied");
    await eventually(async () => (await ctx.prisma.reservation.findUnique({ where: { id: other } }))?.state === "created", 10_000, "other reservation applied");
  });
});
