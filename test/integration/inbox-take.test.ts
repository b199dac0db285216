// The Flovi drain's take (inbox_take, prisma/migrations/20261211000000_inbox_take; db/inbox.ts): the oldest
// waiting reservations, each tried once with its advisory lock, and their rows loaded in receipt order with
// the reservation's state; keys another transaction holds are counted, not waited for. And the pass that
// sends it in BEGIN's round trip: three round trips in all (pipeline/flovi/inbox-store.ts).
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../src/db/client.js";
import { poolOf } from "../../src/db/clients.js";
import { inboxStore } from "../../src/pipeline/flovi/inbox-store.js";
import { createTestContext, directDatabaseUrl, type TestContext } from "../helpers/context.js";
import { explainedDatabase } from "../helpers/plans.js";

let ctx: TestContext;
const handles: Database[] = [];
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => {
  await Promise.all(handles.map((db) => db.close()));
  await ctx.close();
});

interface TakenRow {
  id: string | null;
  ordering_key: string | null;
  r_state: string | null;
  r_sequence: number | null;
  contended: number;
}

/** Stores a waiting delivery of `provider` for reservation `key`; returns its id. */
async function waiting(provider: string, key: string, state = "created"): Promise<string> {
  const body = Buffer.from(JSON.stringify({ event: "reservation_status_change", reservationId: key, state }));
  const { rows } = await ctx.pool.query<{ id: string }>(
    `INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, status, ordering_key)
     VALUES (gen_random_uuid(), $1, md5(random()::text), $2, '{}', 'received', $3) RETURNING id`,
    [provider, body, key],
  );
  return rows[0]!.id;
}

/** Holds `key`'s reservation lock in a transaction of its own until the returned function is called. */
async function holdLock(key: string): Promise<() => Promise<void>> {
  const client = await ctx.pool.connect();
  await client.query("BEGIN");
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended('reservation:' || $1, 0))", [key]);
  return async () => {
    await client.query("ROLLBACK");
    client.release();
  };
}

/** Calls inbox_take in a transaction of its own (its locks end with it). */
async function take(args: string, params: unknown[] = []): Promise<TakenRow[]> {
  const client = await ctx.pool.connect();
  try {
    await client.query("BEGIN");
    return (await client.query<TakenRow>(`SELECT id, ordering_key, r_state, r_sequence, contended FROM inbox_take(${args})`, params)).rows;
  } finally {
    await client.query("ROLLBACK");
    client.release();
  }
}

describe("inbox_take", () => {
  it("loads the oldest waiting reservations' rows in receipt order with their state, and counts the keys held elsewhere", async () => {
    const provider = `take-${randomUUID().slice(0, 8)}`;
    const [a, b, c] = ["A", "B", "C"].map((k) => `${provider}-${k}`) as [string, string, string];
    await ctx.pool.query("INSERT INTO reservations (id, state, sequence, last_changed_at, updated_at) VALUES ($1, 'created', 1, now(), now())", [a]);
    const a1 = await waiting(provider, a, "taken");
    const b1 = await waiting(provider, b);
    const c1 = await waiting(provider, c);
    const a2 = await waiting(provider, a, "driving");
    const release = await holdLock(c);
    try {
      const rows = await take("$1, 500, 500", [provider]);
      expect(rows.map((r) => r.id)).toEqual([a1, b1, a2]);
      expect(rows.map((r) => [r.ordering_key, r.r_state, r.r_sequence])).toEqual([
        [a, "created", 1],
        [b, null, null],
        [a, "created", 1],
      ]);
      expect(rows.every((r) => r.contended === 1)).toBe(true);
      // At most p_limit rows; only the keys of the p_scan oldest rows are tried.
      expect((await take("$1, 500, 2", [provider])).map((r) => r.id)).toEqual([a1, b1]);
      expect((await take("$1, 1, 500", [provider])).map((r) => r.id)).toEqual([a1, a2]);
      // Named keys: C is held, so nothing is loaded, and the one row says so.
      expect(await take("$1, 10, 10, $2", [provider, [c]])).toEqual([{ id: null, ordering_key: null, r_state: null, r_sequence: null, contended: 1 }]);
    } finally {
      await release();
    }
    expect((await take("$1, 10, 10, $2", [provider, [c]])).map((r) => r.id)).toEqual([c1]);
    // Nothing waiting: one row, nothing contended.
    expect(await take("$1, 500, 500", [`${provider}-none`])).toEqual([{ id: null, ordering_key: null, r_state: null, r_sequence: null, contended: 0 }]);
  });

  it("holds the keys it locked until the transaction ends: a second take meanwhile counts them as contended", async () => {
    const provider = `take-${randomUUID().slice(0, 8)}`;
    const key = `${provider}-A`;
    const id = await waiting(provider, key);
    const first = await ctx.pool.connect();
    try {
      await first.query("BEGIN");
      const mine = await first.query<TakenRow>("SELECT id, contended FROM inbox_take($1, 500, 500)", [provider]);
      expect(mine.rows).toEqual([{ id, contended: 0 }]);
      expect(await take("$1, 500, 500", [provider])).toEqual([{ id: null, ordering_key: null, r_state: null, r_sequence: null, contended: 1 }]);
    } finally {
      await first.query("ROLLBACK");
      first.release();
    }
    expect((await take("$1, 500, 500", [provider])).map((r) => r.id)).toEqual([id]);
  });

  it("reads the inbox by its partial indexes under the pass's generic plans, though they were made while the table looked empty", async () => {
    // The function's own statements' plans as they run.
    const { db, plansOf } = await explainedDatabase(ctx, { preparedStatements: true });
    handles.push(db);
    const key = `plan-${randomUUID().slice(0, 8)}`;
    const id = await waiting("flovi", key);
    const plans = await plansOf(async () => expect((await inboxStore(db).pass(undefined, 500)).outcomeIds).toEqual([id]));
    const claim = plans.find((p) => p.includes("pg_try_advisory_xact_lock")) ?? "";
    const load = plans.find((p) => p.includes("LEFT JOIN reservations")) ?? "";
    expect(claim).toContain("Index Scan using inbound_deliveries_inbox_idx");
    expect(load).toContain("inbound_deliveries_inbox_key_idx");
    for (const plan of [claim, load]) expect(plan).not.toMatch(/Seq Scan on inbound_deliveries\b/);
  });
});

describe("a drain pass", () => {
  it.each([
    ["on", true],
    ["off", false],
  ])("is three round trips: BEGIN with the take, the write, COMMIT (prepared statements %s)", async (_, prepared) => {
    // One connection (with prepared statements, the write runs as a hot statement), every query it is sent counted.
    const db = createDatabase({ url: directDatabaseUrl(ctx.config.DATABASE_URL), poolSize: 1, preparedStatements: prepared });
    handles.push(db);
    const sent: string[] = [];
    const client = await poolOf(db).connect();
    const send = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const q = args[0] as string | pg.QueryConfig;
      sent.push(typeof q === "string" ? q : (q.name ?? q.text));
      return send(...args);
    };
    client.release();

    const key = `pass-${randomUUID().slice(0, 8)}`;
    const id = await waiting("flovi", key);
    const pass = await inboxStore(db).pass(undefined, 500);
    expect(pass.outcomeIds).toEqual([id]);
    expect(pass.events.map((e) => e.subject)).toEqual([`reservation/${key}`]);
    expect(sent).toHaveLength(3);
    const take = "SELECT * FROM inbox_take('flovi', 500, 500)";
    if (prepared) {
      expect(sent[0]).toBe(`BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; ${take}`);
      expect(sent.slice(1)).toEqual(["hub_write_report_plan", "COMMIT"]);
    } else {
      expect(sent[0]).toBe(`BEGIN; ${take}`);
      expect(sent[1]).toContain("INSERT INTO events");
      expect(sent[2]).toBe("COMMIT");
    }
    expect((await ctx.pool.query("SELECT status FROM inbound_deliveries WHERE id = $1", [id])).rows).toEqual([{ status: "processed" }]);
  });
});
