// Which subscriptions an event fans out to: the event-type match as the fan-out statement runs it, on a real
// Postgres (the only definition there is: src/db/fan-out.ts).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matchesSubscription } from "../../src/db/fan-out.js";
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
