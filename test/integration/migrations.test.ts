import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { MAX_IN_FLIGHT, RATE_LIMIT } from "../../src/domain/subscription-limits.js";
import { createTestContext, directDatabaseUrl, freshDatabaseUrl, type TestContext } from "../helpers/context.js";

const migrations = path.resolve(import.meta.dirname, "../../prisma/migrations");

/** Runs `check` on a new database migrated up to (not including) `version`: the migrations older than it only. */
async function withSchemaBefore(version: string, check: (client: pg.Client, url: string) => Promise<void>): Promise<void> {
  const url = directDatabaseUrl(await freshDatabaseUrl());
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    const before = mkdtempSync(path.join(tmpdir(), "migrations-before-"));
    const versionOf = (from: string) => /\/(\d{14})_/.exec(from.slice(migrations.length))?.[1];
    cpSync(migrations, before, { recursive: true, filter: (from) => (versionOf(from) ?? "") < version });
    await migrate(url, before);
    await check(client, url);
  } finally {
    await client.end();
  }
}

describe("migrations", () => {
  it("the database's limits on a subscription are the ones the API validates", async () => {
    const url = await freshDatabaseUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; def: string }>(
        `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
          WHERE conrelid = 'subscriptions'::regclass AND conname IN ('subscriptions_max_in_flight_check', 'subscriptions_rate_limit_check')
          ORDER BY conname`,
      );
      const def = Object.fromEntries(rows.map((r) => [r.name, r.def]));
      const numbers = (text: string) => (text.match(/\d+(\.\d+)?/g) ?? []).map(Number);
      expect(numbers(def.subscriptions_max_in_flight_check!)).toEqual([MAX_IN_FLIGHT.min, MAX_IN_FLIGHT.max]);
      expect(numbers(def.subscriptions_rate_limit_check!)).toEqual([RATE_LIMIT.min, RATE_LIMIT.max]);
      // And the database refuses past them.
      await expect(
        client.query(
          `INSERT INTO subscriptions (id, url, event_types, secret, max_in_flight, updated_at) VALUES (gen_random_uuid(), 'http://x', '{*}', 's', $1, now())`,
          [MAX_IN_FLIGHT.max + 1],
        ),
      ).rejects.toThrow(/subscriptions_max_in_flight_check/);
    } finally {
      await client.end();
    }
  });

  it("a delivery's event and subscription are checked at commit (deferred): a missing one still fails its transaction", async () => {
    const url = await freshDatabaseUrl();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; deferred: boolean }>(
        `SELECT conname AS name, condeferred AS deferred FROM pg_constraint
          WHERE conrelid = 'webhook_deliveries'::regclass AND contype = 'f' ORDER BY conname`,
      );
      expect(rows).toEqual([
        { name: "webhook_deliveries_event_id_fkey", deferred: true },
        { name: "webhook_deliveries_replay_id_fkey", deferred: true },
        { name: "webhook_deliveries_subscription_id_fkey", deferred: true },
      ]);
      // Integrity is kept: the statement passes, the commit refuses it.
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, next_attempt_at, updated_at)
         VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'pending', now(), now())`,
      );
      await expect(client.query("COMMIT")).rejects.toThrow(/webhook_deliveries_(event|subscription)_id_fkey/);
      expect((await client.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });

  it("apply once, then a second run is a no-op", async () => {
    const url = await freshDatabaseUrl(); // already migrated from the template
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
      const first = await migrate(url, migrations);
      expect(first.applied.length).toBeGreaterThan(0);
      expect(first.alreadyApplied).toEqual([]);
      const second = await migrate(url, migrations);
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toEqual(first.applied);
      const { rows } = await client.query(
        `SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      expect(rows.map((r) => r.migration_name)).toEqual(first.applied);
      for (const row of rows) {
        expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(row.finished_at).toBeInstanceOf(Date);
        expect(row.applied_steps_count).toBe(1);
      }
    } finally {
      await client.end();
    }
  });

  it("two runners at once apply each migration exactly once (advisory lock)", async () => {
    // Migrations hold a session lock: they run against Postgres itself, never through PgBouncer.
    const url = directDatabaseUrl(await freshDatabaseUrl());
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    await client.end();
    const [a, b] = await Promise.all([migrate(url, migrations), migrate(url, migrations)]);
    expect([...a.applied, ...b.applied].sort()).toEqual([...a.applied, ...a.alreadyApplied].sort());
  });
});

describe("the fan-out backlog by destination (20261208000000_backlog_by_destination)", () => {
  it("turns a row written before it into one row per destination, listing the subscriptions the event still owes", async () => {
    await withSchemaBefore("20261208000000", async (client, url) => {
      const sub = async (origin: string, extra = "", createdAt = "now() - interval '1 hour'") => {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO subscriptions (id, url, event_types, secret, updated_at, created_at${extra ? ", ordering" : ""})
         VALUES (gen_random_uuid(), CASE WHEN $1 LIKE 'amqp%' THEN $1 ELSE $1 || '/' || gen_random_uuid() END, '{reservation.*}', 'whsec_x', now(), ${createdAt}${extra ? `, '${extra}'` : ""}) RETURNING id`,
          [origin],
        );
        return rows[0]!.id;
      };
      const atA = [await sub("https://user:pw@A.example.com"), await sub("https://a.example.com")];
      const atB = [await sub("amqp://mq.example.com:5672/billing")];
      await sub("https://a.example.com", "subject"); // ordered: written in the writer's transaction
      await sub("https://a.example.com", "", "now() + interval '1 hour'"); // created after the event
      const { rows: events } = await client.query<{ id: string }>(
        `INSERT INTO events (id, position, source, type, subject, entity, entity_id, sequence, time, dedupe_key, envelope, created_at)
       VALUES (gen_random_uuid(), 1, 'test', 'reservation.created', 'reservations/r1', 'reservation', 'r1', 1, now(), 'legacy-backlog',
               '{"type": "reservation.created"}', now()) RETURNING id`,
      );
      await client.query("INSERT INTO fan_out_backlog (event_id, position) VALUES ($1, 1)", [events[0]!.id]);

      await migrate(url, migrations);
      const { rows } = await client.query<{ destination_key: string; subscription_ids: string[] }>(
        "SELECT destination_key, subscription_ids FROM fan_out_backlog WHERE event_id = $1 ORDER BY destination_key",
        [events[0]!.id],
      );
      expect(rows).toEqual([
        { destination_key: "amqp://mq.example.com:5672/billing", subscription_ids: atB },
        { destination_key: "https://a.example.com", subscription_ids: [...atA].sort() },
      ]);
    });
  });
});

describe("a destination's default port (20261209000000_destination_key_ports)", () => {
  it("gives subscriptions written before it the scheduler's destination, one for a host however its port is written", async () => {
    await withSchemaBefore("20261209000000", async (client, url) => {
      const urls = ["https://hooks.example.com/a", "https://hooks.example.com:443/b", "nats://nats.internal"];
      for (const u of urls)
        await client.query("INSERT INTO subscriptions (id, url, event_types, secret, updated_at) VALUES (gen_random_uuid(), $1, '{*}', 's', now())", [u]);
      const keys = async () =>
        (await client.query<{ destination_key: string }>("SELECT destination_key FROM subscriptions ORDER BY url")).rows.map((r) => r.destination_key);
      expect(await keys()).toEqual(["https://hooks.example.com", "https://hooks.example.com:443", "nats://nats.internal"]);

      await migrate(url, migrations);
      expect(await keys()).toEqual(["https://hooks.example.com", "https://hooks.example.com", "nats://nats.internal:4222"]);
      const { rows } = await client.query("SELECT 1 FROM pg_proc WHERE proname = 'hub_event_attribute'");
      expect(rows).toEqual([]);
    });
  });
});

// Every model written and read through Prisma against the SQL migrations: if schema.prisma and the SQL
// drift apart (a column, a type, a default), one of these fails.
describe("schema and SQL agree on every model", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it("round-trips every model", async () => {
    const p = ctx.prisma;
    const delivery = await p.inboundDelivery.create({
      data: { provider: "flovi", bodyDigest: "d".repeat(64), rawBody: Buffer.from("{}"), headers: { a: "b" }, status: "received" },
    });
    const reservation = await p.reservation.create({
      data: { id: "schema-r", state: "created", lastChangedAt: new Date(), finalCosts: { price: 1 }, vehicles: [] },
    });
    const transition = await p.reservationTransition.create({
      data: {
        reservationId: reservation.id,
        toState: "created",
        outcome: "applied",
        source: "webhook",
        occurredAt: new Date(),
        receivedAt: new Date(),
        inboundDeliveryId: delivery.id,
      },
    });
    const event = await p.event.create({
      data: {
        id: "00000000-0000-4000-8000-000000000001",
        source: "flovi",
        type: "reservation.created",
        subject: "reservation/schema-r",
        entity: "reservation",
        entityId: "schema-r",
        sequence: 1,
        time: new Date(),
        dedupeKey: "schema-test",
        envelope: { ok: true },
        position: 1n,
      },
    });
    const subscription = await p.subscription.create({
      data: { id: "00000000-0000-4000-8000-000000000002", url: "http://127.0.0.1:1/x", eventTypes: ["*"], secret: "whsec_x" },
    });
    const wd = await p.webhookDelivery.create({ data: { id: "00000000-0000-4000-8000-000000000003", eventId: event.id, subscriptionId: subscription.id } });
    const attempt = await p.deliveryAttempt.create({ data: { webhookDeliveryId: wd.id, attempt: 1, attemptedAt: new Date(), durationMs: 3, statusCode: 200 } });
    const order = await p.mfbOrder.create({ data: { id: "00000000-0000-4000-8000-000000000004", reference: "ref" } });
    const parcel = await p.mfbParcel.create({
      data: { orderId: order.id, parcelIndex: 0, status: "created", lastCode: "shipment_created", lastEventAt: new Date() },
    });
    const trackingEvent = await p.mfbTrackingEvent.create({
      data: { orderId: order.id, parcelIndex: 0, code: "picked_up", happenedAt: new Date(), label: { en: "x" } },
    });
    const booking = await p.greenflowBooking.create({ data: { bookingCode: "BR-1", lastname: "Silva" } });
    const providerState = await p.providerState.create({ data: { provider: "mfb", pausedUntil: new Date(), pauseReason: "x" } });
    const audit = await p.auditLog.create({ data: { actor: "admin", action: "test", target: "x", details: { a: 1 } } });
    const token = await p.apiToken.create({
      data: {
        id: "00000000-0000-4000-8000-0000000000a1",
        name: "schema",
        role: "viewer",
        tokenHash: "h".repeat(64),
        prefix: "lehub_abcdef",
        createdBy: "admin",
      },
    });
    expect(await p.apiToken.findUniqueOrThrow({ where: { id: token.id } })).toMatchObject({
      role: "viewer",
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
    });

    expect(transition.id).toBeTypeOf("bigint");
    expect(wd.status).toBe("pending");
    expect(attempt.statusCode).toBe(200);
    expect(order.active).toBe(true);
    expect(parcel.parcelIndex).toBe(0);
    expect(trackingEvent.id).toBeTypeOf("bigint");
    expect(booking.sequence).toBe(0);
    expect(providerState.provider).toBe("mfb");
    expect(audit.actor).toBe("admin");
    expect(subscription.status).toBe("active");

    const loaded = await p.reservation.findUniqueOrThrow({ where: { id: "schema-r" }, include: { transitions: { include: { delivery: true } } } });
    expect(loaded.transitions[0]?.delivery?.id).toBe(delivery.id);
    const withAttempts = await p.webhookDelivery.findUniqueOrThrow({ where: { id: wd.id }, include: { attemptLog: true, event: true, subscription: true } });
    expect(withAttempts.attemptLog).toHaveLength(1);
    const withParcels = await p.mfbOrder.findUniqueOrThrow({ where: { id: order.id }, include: { parcels: true, events: true } });
    expect(withParcels.parcels).toHaveLength(1);
    expect(withParcels.events).toHaveLength(1);
    await expect(
      p.inboundDelivery.create({ data: { provider: "flovi", bodyDigest: "d".repeat(64), rawBody: Buffer.from("{}"), headers: {}, status: "received" } }),
    ).rejects.toThrow();
  });
});
