// Plans that hold whatever Postgres's statistics say (prisma/migrations/20261213000000_plans_whatever_the_statistics).
// Right after 1,000 subscriptions are created at one host, Postgres still plans with what it counted when it last
// analysed the tables (here: one subscription and its 64 slots), until autovacuum analyses them again. The
// destination's waiting count and the claim for many lanes must still read each subscription's rows by its key:
// a plan that walks every pending delivery, or every lane's slots, once per subscription costs 100-500 ms a call
// beside such a crowd. Each case reads the plans Postgres ran (auto_explain) and the results.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimDeliveries } from "../../src/db/delivery-lanes.js";
import { writeEvents } from "../../src/db/outbox.js";
import { poolOf } from "../../src/db/clients.js";
import { onPool, withTransaction } from "../../src/db/sql.js";
import { createTestContext, type TestContext } from "../helpers/context.js";
import { reservationCreated } from "../helpers/events.js";
import { type ExplainedDatabase, explainedDatabase } from "../helpers/plans.js";

const CROWD = 1000;
const PENDING_EACH = 3;
const HOST = "http://crowd.example:8000";

let ctx: TestContext;
let explained: ExplainedDatabase;
let crowd: string[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  // One subscription with its slots and a few delivered events, analysed: what Postgres knows of the tables.
  const [event] = await withTransaction(ctx.db, (sql) => writeEvents(sql, [reservationCreated(randomUUID(), `stale:${randomUUID()}`, new Date())]));
  await ctx.pool.query(
    `WITH s AS (
       INSERT INTO subscriptions (id, url, event_types, secret, updated_at) VALUES (gen_random_uuid(), 'http://fast.example/hook', '{*}', 'whsec_x', now()) RETURNING id)
     INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, next_attempt_at, updated_at)
     SELECT gen_random_uuid(), $1, s.id, 'succeeded', now(), now() FROM s`,
    [event!.id],
  );
  await ctx.pool.query("ANALYZE subscriptions, delivery_slots, webhook_deliveries");

  // Then the crowd, not analysed: 1,000 subscriptions at one host (64 slots each, from the trigger), each with
  // PENDING_EACH deliveries due.
  const events = await withTransaction(ctx.db, (sql) =>
    writeEvents(
      sql,
      Array.from({ length: PENDING_EACH }, () => reservationCreated(randomUUID(), `stale:${randomUUID()}`, new Date())),
    ),
  );
  const { rows } = await ctx.pool.query<{ id: string }>(
    `INSERT INTO subscriptions (id, url, event_types, secret, updated_at)
     SELECT gen_random_uuid(), $1 || '/team-' || g, '{*}', 'whsec_x', now() FROM generate_series(1, $2::int) g RETURNING id`,
    [HOST, CROWD],
  );
  crowd = rows.map((r) => r.id).sort();
  await ctx.pool.query(
    `INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, position, next_attempt_at, schedule_started_at, updated_at)
     SELECT gen_random_uuid(), e.id, s.id, 'pending', e.n, now() - interval '1 second', now(), now()
       FROM unnest($1::uuid[]) WITH ORDINALITY AS e(id, n), unnest($2::uuid[]) AS s(id)`,
    [events.map((e) => e.id), crowd],
  );

  explained = await explainedDatabase(ctx);
});
afterAll(async () => {
  await explained.db.close();
  await ctx.close();
});

describe("right after 1,000 subscriptions are created at one host, before Postgres analyses them", () => {
  it("the destination's waiting count probes each subscription's pending deliveries by its key, up to the cap", async () => {
    const counted: number[] = [];
    const ran = await explained.plansOf(async () => {
      for (const cap of [2048, 5000]) {
        const { rows } = await poolOf(explained.db).query<{ n: number }>("SELECT hub_destination_waiting($1, $2) AS n", [HOST, cap]);
        counted.push(rows[0]!.n);
      }
    });
    expect(counted).toEqual([2048, CROWD * PENDING_EACH]);
    const count = ran.find((p) => p.includes("FROM subscriptions s") && p.includes("webhook_deliveries w")) ?? "";
    // A lateral look-up per subscription, by the pending deliveries' index…
    expect(count).toMatch(/Index (Only )?Scan using webhook_deliveries_due_idx on webhook_deliveries w[\s\S]*Index Cond: \(subscription_id = s\.id\)/);
    // …not every pending delivery read once per subscription and joined by a filter.
    expect(count).not.toMatch(/Join Filter: \(s\.id = w\.subscription_id\)/);
  });

  it("a claim for 32 of them counts each lane's free slots by its key, and takes what each wants", async () => {
    const settings = { leaseMs: 10_000, circuitAfterFailures: 0, circuitProbeMs: 1_000 };
    const lanes = crowd.slice(0, 32);
    let claimed: { subscriptionId: string }[] = [];
    const set = await explained.plansOf(async () => {
      ({ claimed } = await claimDeliveries(
        onPool(explained.db),
        lanes.map((subscriptionId) => ({ subscriptionId, want: 2 })),
        randomUUID(),
        settings,
      ));
    });
    expect(claimed).toHaveLength(64);
    expect(new Set(claimed.map((c) => c.subscriptionId))).toEqual(new Set(lanes));
    const together = set.find((p) => p.includes("WITH asked AS")) ?? "";
    expect(together).toContain("Index Scan using delivery_slots_pkey on delivery_slots ds ");
    expect(together).not.toMatch(/Seq Scan on delivery_slots/);

    // A lane asked for alone takes the one-by-one path: its free slots are counted by the key too (this plan
    // held on the old statistics before the change as well: the custom plan knows the lane; a guard, not a repair).
    const alone = await explained.plansOf(async () => {
      ({ claimed } = await claimDeliveries(onPool(explained.db), [{ subscriptionId: crowd[40]!, want: 3 }], randomUUID(), settings));
    });
    expect(claimed).toHaveLength(3);
    // (The count of the lane's free slots, however it is written: a count over delivery_slots, not a lock of them.)
    const free = alone.find((p) => /SELECT count\(\*\)[\s\S]*delivery_slots ds/.test(p) && !p.includes("FOR UPDATE")) ?? "";
    expect(free).toContain("Index Scan using delivery_slots_pkey on delivery_slots ds");
    expect(free).not.toMatch(/Seq Scan on delivery_slots/);
  });
});
