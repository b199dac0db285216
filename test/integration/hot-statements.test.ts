// The hot statements (src/db/sql.ts): the Flovi drain's write and the attempts' record are prepared once per
// connection and run with one generic plan that reads the hot tables by their indexes; with prepared
// statements off, or once a pooler has lost them, they are planned at each run and write the same rows.
// Each handle here has one connection, so what one statement prepared is what the next one sees.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../src/db/client.js";
import { poolOf } from "../../src/db/clients.js";
import { type AttemptRecord, recordAttempts } from "../../src/db/delivery-attempts.js";
import type { NewDelivery } from "../../src/db/fan-out.js";
import { writeReportPlan } from "../../src/db/reservation-writes.js";
import { onPool, withTransaction } from "../../src/db/sql.js";
import { createEvent } from "../../src/domain/event-catalog.js";
import { createTestContext, directDatabaseUrl, type TestContext } from "../helpers/context.js";
import { reservationCreated } from "../helpers/events.js";

let ctx: TestContext;
let subscriptionId: string;
const handles: Database[] = [];
beforeAll(async () => {
  ctx = await createTestContext();
  subscriptionId = randomUUID();
  await ctx.pool.query(
    `INSERT INTO subscriptions (id, url, event_types, secret, max_in_flight, updated_at) VALUES ($1, 'http://127.0.0.1:9/hot', '{reservation.*}', 'whsec_x', 64, now())`,
    [subscriptionId],
  );
});
afterAll(async () => {
  await Promise.all(handles.map((db) => db.close()));
  await ctx.close();
});

/** A handle of one connection to Postgres itself (a named statement lives on its server connection). */
function oneConnection(preparedStatements: boolean): Database {
  const db = createDatabase({ url: directDatabaseUrl(ctx.config.DATABASE_URL), poolSize: 1, preparedStatements });
  handles.push(db);
  return db;
}

/** A drain-like write of `n` reservation events, leasing their first attempts; returns the leased deliveries. */
async function write(db: Database, n: number): Promise<NewDelivery[]> {
  const now = new Date();
  const events = Array.from({ length: n }, () => {
    const entityId = randomUUID();
    return { envelope: createEvent(reservationCreated(entityId, `hot:${entityId}`, now), randomUUID()), dedupeKey: entityId, requestId: null };
  });
  const lease = { lanes: [{ subscriptionId, want: n }], leaseToken: randomUUID(), settings: { leaseMs: 60_000, circuitAfterFailures: 0, now } };
  const written = await withTransaction(db, (sql) => writeReportPlan(sql, { reservations: [], transitions: [], inbound: [], events }, lease));
  return written.deliveries.filter((d) => d.leased);
}

function succeeded(delivery: NewDelivery): AttemptRecord {
  return {
    webhookDeliveryId: delivery.webhookDeliveryId,
    subscriptionId: delivery.subscriptionId,
    leaseToken: delivery.leased!.claimed.leaseToken,
    attempt: 1,
    attemptedAt: new Date(),
    durationMs: 3,
    statusCode: 204,
    error: null,
    excerpt: null,
    status: "succeeded",
    nextAttemptAt: null,
    scheduleStep: 1,
    throttled: false,
  };
}

async function prepared(db: Database): Promise<Record<string, { generic: number; custom: number }>> {
  const rows = await onPool(db).query<{ name: string; generic_plans: string; custom_plans: string }>(
    "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'hub\\_%'",
  );
  return Object.fromEntries(rows.map((r) => [r.name, { generic: Number(r.generic_plans), custom: Number(r.custom_plans) }]));
}

const statusOf = async (id: string) =>
  (await ctx.pool.query<{ status: string; attempts: number }>("SELECT status, attempts FROM webhook_deliveries WHERE id = $1", [id])).rows[0];

describe("hot statements", () => {
  it("are prepared once per connection and run with their generic plan, the session's planning settings back after", async () => {
    const db = oneConnection(true);
    const leased = [...(await write(db, 2)), ...(await write(db, 1)), ...(await write(db, 3))];
    expect(leased).toHaveLength(6);
    await recordAttempts(db, leased.slice(0, 2).map(succeeded));
    await recordAttempts(db, leased.slice(2).map(succeeded));

    expect(await prepared(db)).toEqual({
      hub_write_report_plan: { generic: 3, custom: 0 },
      hub_record_attempts: { generic: 2, custom: 0 },
    });
    for (const d of leased) expect(await statusOf(d.webhookDeliveryId)).toEqual({ status: "succeeded", attempts: 1 });
    // The transaction's next statement plans as the session does.
    const settings = await withTransaction(db, async (sql) => {
      await writeReportPlan(sql, { reservations: [], transitions: [], inbound: [], events: [] });
      return sql.query<{ mode: string; seqscan: string }>("SELECT current_setting('plan_cache_mode') AS mode, current_setting('enable_seqscan') AS seqscan");
    });
    expect(settings).toEqual([{ mode: "auto", seqscan: "on" }]);
  });

  it("a batch that hands nothing over runs the plain record, without the handover's steps; one that hands over runs its own", async () => {
    const db = oneConnection(true);
    const leased = await write(db, 4);
    await recordAttempts(db, leased.slice(0, 2).map(succeeded));
    const texts = async () =>
      Object.fromEntries(
        (await onPool(db).query<{ name: string; statement: string }>("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'hub\\_record%'")).map(
          (r) => [r.name, r.statement],
        ),
      );
    const plain = await texts();
    expect(Object.keys(plain)).toEqual(["hub_record_attempts"]);
    expect(plain.hub_record_attempts).not.toMatch(/SKIP LOCKED|handing|\bleased AS/);

    const handover = { lanes: [{ subscriptionId, want: 2 }], leaseToken: randomUUID(), settings: { leaseMs: 60_000, circuitAfterFailures: 0 } };
    await recordAttempts(db, leased.slice(2).map(succeeded), handover);
    expect(Object.keys(await texts()).sort()).toEqual(["hub_record_attempts", "hub_record_handing_over"]);
    for (const d of leased) expect(await statusOf(d.webhookDeliveryId)).toEqual({ status: "succeeded", attempts: 1 });
  });

  it("read the hot tables by their indexes, though their generic plans were made while the tables looked empty", async () => {
    const db = oneConnection(true);
    // Postgres's auto_explain shows this connection's plans as they run (to this client, as notices).
    const plans: string[] = [];
    const client = await poolOf(db).connect();
    client.on("notice", (notice) => plans.push(notice.message ?? ""));
    await client.query("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice");
    client.release();

    const leased = await write(db, 2);
    await recordAttempts(db, leased.map(succeeded));
    const planOf = (start: string) => plans.find((p) => p.includes(start)) ?? "";
    const writePlan = planOf("WITH reservation_rows AS");
    const recordPlan = planOf("WITH input AS");
    expect(writePlan).toContain("Index Scan using delivery_slots_pkey");
    expect(recordPlan).toContain("Index Scan using webhook_deliveries_pkey");
    for (const plan of [writePlan, recordPlan])
      expect(plan).not.toMatch(/Seq Scan on (inbound_deliveries|webhook_deliveries|delivery_slots|subscriptions|events|reservations)\b/);
  });

  it("with prepared statements off are planned at each run and write the same", async () => {
    const db = oneConnection(false);
    const leased = await write(db, 2);
    await recordAttempts(db, leased.map(succeeded));
    expect(await prepared(db)).toEqual({});
    for (const d of leased) expect(await statusOf(d.webhookDeliveryId)).toEqual({ status: "succeeded", attempts: 1 });
  });

  it("behind a pooler that lost them: the record is written unprepared at once, a write's transaction fails whole, then both plan at each run", async () => {
    const db = oneConnection(true);
    const first = await write(db, 2);
    await recordAttempts(db, [succeeded(first[0]!)]);
    // What a transaction pooler does to a client: its next statement lands where the prepared one is not.
    await onPool(db).query("DEALLOCATE ALL");

    await recordAttempts(db, [succeeded(first[1]!)]);
    expect(await statusOf(first[1]!.webhookDeliveryId)).toEqual({ status: "succeeded", attempts: 1 });
    expect(await prepared(db)).toEqual({});

    const second = oneConnection(true);
    await write(second, 1);
    await onPool(second).query("DEALLOCATE ALL");
    const events = async () => Number((await ctx.pool.query<{ n: string }>("SELECT count(*) AS n FROM events")).rows[0]!.n);
    const before = await events();
    await expect(write(second, 1)).rejects.toMatchObject({ code: "26000" });
    expect(await events()).toBe(before);
    expect(await write(second, 1)).toHaveLength(1);
    expect(await events()).toBe(before + 1);
    expect(await prepared(second)).toEqual({});
  });
});
