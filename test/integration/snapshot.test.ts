// A snapshot to start from (GET /snapshot/<kind>) and the log after its position: a consumer that applies the
// pages, then GET /events?after=<position> keeping only higher sequences, ends with every reservation's state,
// while webhooks change reservations on pages already read and on pages still to come. Through the real api and
// worker; shipments and rentals (written by the pollers) arranged in the database.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.startWorker();
});
afterAll(async () => {
  await ctx.close();
});

const get = (path: string, token = TEST_ADMIN_TOKEN) => request(ctx.app).get(path).set("authorization", `Bearer ${token}`);

interface Item {
  subject: string;
  sequence: number;
  eventId: string | null;
  time: string;
  data: { entity: string; entityId: string; status: string; phase: string; sequence: number; details: Record<string, unknown> };
}

async function post(state: string, id: string) {
  const res = await postFlovi(ctx.app, statusChange(state, id, state === "final_costs" ? { price: 120, currency: "EUR" } : {}));
  expect(res.status).toBe(202);
}

describe("GET /snapshot/reservations", () => {
  it("the pages, then the log after their position: every state, no gap, nothing out of order, under concurrent writes", async () => {
    const run = randomUUID().slice(0, 6);
    const ids = Array.from({ length: 24 }, (_, i) => `snap-${run}-${String(i).padStart(2, "0")}`);
    for (const id of ids) await post("created", id);
    for (const id of ids.slice(0, 12)) await post("taken", id);
    await ctx.settled();

    // The consumer's store: subject → { status, sequence }, and every sequence it applied per subject.
    const held = new Map<string, { status: string; sequence: number }>();
    const applied = new Map<string, number[]>();
    const later = ["driving", "sealed", "final_costs"];
    let cursor: string | null = null;
    let position: string | null = null;
    let page = 0;
    do {
      const res = await get(`/snapshot/reservations?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(res.status).toBe(200);
      position ??= res.body.position as string;
      expect(res.body.position).toBe(position);
      for (const item of (res.body.items as Item[]).filter((i) => i.subject.startsWith(`reservation/snap-${run}`))) {
        expect(item.eventId).not.toBeNull();
        expect(item.data.sequence).toBe(item.sequence);
        held.set(item.subject, { status: item.data.status, sequence: item.sequence });
      }
      cursor = res.body.next as string | null;
      // Between pages: reservations on pages read and on pages to come move on, one is cancelled, one is new.
      // Every other time the webhooks are processed (committed, positioned) before the next page is read.
      const moving = [ids[page]!, ids[ids.length - 1 - page]!];
      await Promise.all(moving.map(async (id) => post(ids.indexOf(id) < 12 ? later[page % 3]! : "taken", id)));
      await post(page === 1 ? "cancelled" : "created", page === 1 ? ids[20]! : `snap-${run}-new-${page}`);
      if (page % 2 === 0) await ctx.settled();
      page += 1;
    } while (cursor);
    expect(page).toBeGreaterThanOrEqual(6);
    await ctx.settled();

    let after = position!;
    for (;;) {
      const res = await get(`/events?type=reservation.*&after=${after}&limit=7`);
      expect(res.status).toBe(200);
      for (const event of res.body.data as { subject: string; data: { status: string; sequence: number } }[]) {
        if (!event.subject.startsWith(`reservation/snap-${run}`)) continue;
        const mine = held.get(event.subject);
        if (mine && event.data.sequence <= mine.sequence) continue;
        // No gap: the next event applied is always the one after what is held.
        // No gap: after what is held, the next event applied is always the next one. An entity the pages left out
        // (it became final while they were read) starts from whatever the log has after the position.
        if (mine) expect(event.data.sequence).toBe(mine.sequence + 1);
        held.set(event.subject, { status: event.data.status, sequence: event.data.sequence });
        applied.set(event.subject, [...(applied.get(event.subject) ?? []), event.data.sequence]);
      }
      after = res.body.cursor;
      if (!res.body.hasMore) break;
    }
    expect(applied.size).toBeGreaterThan(10);
    // Cancelled while the pages were read, before its page: left out of them, known from the log.
    expect(applied.get(`reservation/${ids[20]}`)).toEqual([2]);

    const truth = await ctx.prisma.reservation.findMany({ where: { id: { startsWith: `snap-${run}` } }, select: { id: true, state: true, sequence: true } });
    expect(truth.length).toBe(ids.length + page - 1);
    expect(Object.fromEntries([...held].sort())).toEqual(
      Object.fromEntries(truth.map((r) => [`reservation/${r.id}`, { status: r.state, sequence: r.sequence }]).sort()),
    );
    // The snapshot leaves final reservations out; all=true has them.
    const open = await allItems("/snapshot/reservations?limit=1000");
    const every = await allItems("/snapshot/reservations?limit=1000&all=true");
    const finalIds = truth.filter((r) => r.state === "final_costs" || r.state === "cancelled").map((r) => `reservation/${r.id}`);
    expect(finalIds.length).toBeGreaterThan(0);
    expect(open.map((i) => i.subject)).not.toEqual(expect.arrayContaining([finalIds[0]]));
    expect(every.map((i) => i.subject)).toEqual(expect.arrayContaining(finalIds));
  });

  it("a cursor is the session's: another kind, a changed `all`, or a made-up one is a 400; an unknown kind a 404", async () => {
    const run = randomUUID().slice(0, 6);
    for (const i of [1, 2, 3]) await post("created", `cur-${run}-${i}`);
    await ctx.settled();
    const first = await get("/snapshot/reservations?limit=1");
    expect(first.body.next).toEqual(expect.any(String));
    const next = encodeURIComponent(first.body.next);
    expect((await get(`/snapshot/shipments?cursor=${next}`)).body.message).toMatch(/a cursor of \/snapshot\/reservations/);
    expect((await get(`/snapshot/reservations?cursor=${next}&all=true`)).status).toBe(400);
    const forged = await get("/snapshot/reservations?cursor=bm90LWEtY3Vyc29y");
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ error: "invalid_cursor" });
    expect((await get("/snapshot/reservations?limit=0")).status).toBe(400);
    // Made up to look like one: a shipment's key that is no uuid, a NUL in a key.
    const made = (state: object) => encodeURIComponent(Buffer.from(JSON.stringify(state)).toString("base64url"));
    const notUuid = await get(`/snapshot/shipments?cursor=${made({ kind: "shipments", position: "1", all: false, after: "x" })}`);
    expect(notUuid.status).toBe(400);
    expect((await get(`/snapshot/reservations?cursor=${made({ kind: "reservations", position: "1", all: false, after: "a\u0000" })}`)).status).toBe(400);
    const unknown = await get("/snapshot/parcels");
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain("/snapshot/shipments");
  });
});

describe("GET /snapshot/shipments and /snapshot/rentals", () => {
  it("list the tracked items not stopped, each as its latest event's data, rebuilt from the state when retention pruned it", async () => {
    const [moving, stopped, idle, unseen] = Array.from({ length: 4 }, () => randomUUID());
    await ctx.prisma.mfbOrder.createMany({
      data: [
        { id: moving!, reference: "REF-M", status: "in_transit", sequence: 2 },
        { id: stopped!, reference: "REF-S", status: "delivered", sequence: 3, active: false },
        // Its latest event is older than retention: pruned.
        { id: idle!, reference: "REF-I", status: "exception", sequence: 4 },
        // Nothing was said of it yet.
        { id: unseen!, reference: "REF-U", sequence: 0 },
      ],
    });
    const envelope = (id: string, sequence: number, status: string) => ({
      specversion: "1.0",
      id: randomUUID(),
      type: `shipment.${status}`,
      data: { entity: "shipment", entityId: id, status, phase: "in_transit", sequence, details: { carrier: "ups" } },
    });
    await ctx.prisma.event.createMany({
      data: [
        [moving!, 1, "picked_up"],
        [moving!, 2, "in_transit"],
        [stopped!, 3, "delivered"],
      ].map(([id, sequence, status]) => ({
        id: randomUUID(),
        source: "myflyingbox",
        type: `shipment.${status}`,
        subject: `shipment/${id}`,
        entity: "shipment",
        entityId: id as string,
        sequence: sequence as number,
        time: new Date(),
        dedupeKey: `snap-ship-${id}-${sequence}`,
        envelope: envelope(id as string, sequence as number, status as string),
      })),
    });
    const items = await allItems("/snapshot/shipments?limit=1");
    const bySubject = new Map(items.map((i) => [i.subject, i]));
    expect(bySubject.get(`shipment/${moving}`)).toMatchObject({ sequence: 2, data: { status: "in_transit", sequence: 2, details: { carrier: "ups" } } });
    expect(bySubject.get(`shipment/${moving}`)?.eventId).toEqual(expect.any(String));
    expect(bySubject.get(`shipment/${idle}`)).toMatchObject({
      eventId: null,
      sequence: 4,
      data: { entity: "shipment", entityId: idle, externalId: "REF-I", status: "exception", phase: "exception", sequence: 4, details: {} },
    });
    expect(bySubject.has(`shipment/${stopped}`)).toBe(false);
    expect(bySubject.has(`shipment/${unseen}`)).toBe(false);
    // all=true: the stopped one too, its event being kept.
    const every = await allItems("/snapshot/shipments?all=true");
    expect(every.find((i) => i.subject === `shipment/${stopped}`)).toMatchObject({ data: { status: "delivered", sequence: 3 } });

    const code = `GF-${randomUUID().slice(0, 8)}`;
    await ctx.prisma.greenflowBooking.create({ data: { bookingCode: code, lastname: "Silva", localNumber: `L-${code}`, status: "reserved", sequence: 1 } });
    const rentals = await allItems("/snapshot/rentals");
    expect(rentals.find((i) => i.subject === `rental/${code}`)).toMatchObject({
      eventId: null,
      data: { entity: "rental", externalId: `L-${code}`, status: "reserved", phase: "booked" },
    });
  });
});

describe("consumers", () => {
  it("read /snapshot/<kind> only when their types cover <kind>.*", async () => {
    const made = await request(ctx.app)
      .post("/admin/consumers")
      .set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`)
      .send({ name: `snap-${randomUUID().slice(0, 6)}`, eventTypes: ["reservation.*", "rental.cancelled"] });
    expect(made.status).toBe(201);
    const token = made.body.token as string;
    expect((await get("/snapshot/reservations", token)).status).toBe(200);
    const refused = await get("/snapshot/rentals", token);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: "event_type_not_allowed" });
    expect(refused.body.message).toContain("rental.*");
  });
});

async function allItems(first: string): Promise<Item[]> {
  const items: Item[] = [];
  let next: string | null = null;
  do {
    const res = await get(next ? `${first}${first.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(next)}` : first);
    expect(res.status).toBe(200);
    items.push(...(res.body.items as Item[]));
    next = res.body.next;
  } while (next);
  return items;
}
