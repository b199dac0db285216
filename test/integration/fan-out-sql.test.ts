// Which subscriptions an event fans out to: the event-type match as the fan-out statement runs it, on a real
// Postgres (the only definition there is: src/db/fan-out.ts).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matchesSubscription } from "../../src/db/fan-out.js";
import { destinationKey } from "../../src/domain/destinations.js";
import { createTestContext, type TestContext } from "../helpers/context.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

async function matches(patterns: readonly string[], type: string): Promise<boolean> {
  const id = randomUUID();
  await ctx.pool.query(`INSERT INTO subscriptions (id, url, event_types, secret, updated_at) VALUES ($1, $2, $3, 'whsec_x', now())`, [
    id,
    `http://127.0.0.1:9/${id}`,
    patterns,
  ]);
  const { rows } = await ctx.pool.query<{ m: boolean }>(`SELECT ${matchesSubscription("$2::text")} AS m FROM subscriptions s WHERE s.id = $1`, [id, type]);
  return rows[0]!.m;
}

describe("event type filters (the fan-out's SQL)", () => {
  it.each([
    [["*"], "shipment.delivered", true],
    [["reservation.*"], "reservation.sealed", true],
    [["reservation.*"], "rental.reserved", false],
    [["reservation.*"], "reservations.sealed", false],
    [["reservation.sealed"], "reservation.sealed", true],
    [["reservation.sealed"], "reservation.sealed_extra", false],
    [["shipment.delivered", "rental.*"], "rental.cancelled", true],
    [["shipment.delivered", "rental.*"], "shipment.exception", false],
  ] as const)("%j matches %s: %s", async (patterns, type, expected) => {
    expect(await matches(patterns, type)).toBe(expected);
  });
});

// The fan-out backlog groups by the subscriptions' stored `destination_key` (hub_destination_key in SQL); the
// scheduler's fairness by destinationKey (TypeScript). Both must name the same destination, or a host written
// two ways would get two rooms of waiting deliveries.
describe("a subscription's destination in SQL is the scheduler's", () => {
  it.each([
    "https://hooks.example.com/a",
    "https://hooks.example.com:443/b",
    "https://HOOKS.Example.com:0443/c",
    "https://user:secret@hooks.example.com/d",
    "https://hooks.example.com:8443/e",
    "http://hooks.example.com:80/f",
    "http://hooks.example.com:8080",
    "http://[::1]:443/g",
    "https://[::1]:443/h",
    "amqp://user:secret@mq.internal",
    "amqp://mq.internal:5672/",
    "amqp://mq.internal/billing",
    "amqps://mq.internal:5671/%2F",
    "nats://nats.internal",
    "nats://nats.internal:4222",
    "tls://nats.internal:4223",
  ])("%s", async (url) => {
    const id = randomUUID();
    const { rows } = await ctx.pool.query<{ destination_key: string }>(
      `INSERT INTO subscriptions (id, url, event_types, secret, updated_at) VALUES ($1, $2, '{*}', 'whsec_x', now()) RETURNING destination_key`,
      [id, url],
    );
    expect(rows[0]!.destination_key).toBe(destinationKey(url));
  });
});
