import request from "supertest";
import type { Express } from "express";
import { signBody } from "../../src/providers/flovi/signature.js";
import type { Database } from "../../src/db/client.js";
import { lockReservations } from "../../src/db/reservation-writes.js";
import { withTransaction } from "../../src/db/sql.js";
import { TEST_SECRET } from "./context.js";

let counter = 0;

export function statusChange(state: string, reservationId: string | number, extra: Record<string, unknown> = {}) {
  counter += 1;
  return { event: "reservation_status_change", reservationId, state, occurredAt: new Date(Date.UTC(2026, 5, 1, 8, 0, counter)).toISOString(), ...extra };
}

export function postFlovi(app: Express, body: unknown, opts: { secret?: string; signature?: string; contentType?: string } = {}) {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const signature = opts.signature ?? signBody(opts.secret ?? TEST_SECRET, raw);
  return request(app)
    .post("/webhooks/flovi")
    .set("content-type", opts.contentType ?? "application/json")
    .set("x-hub-signature", signature)
    .send(raw.toString("utf8")); // a string: superagent would JSON-encode a Buffer
}

/**
 * Sets when a reservation last changed, as a test ages it. Under the reservation's own lock, like every writer
 * in the hub: a writer that read the row (the details look-up writing `reservation.updated` carries the
 * `last_changed_at` it read) then commits either wholly before this or wholly after, never across it.
 */
export function ageReservation(db: Database, id: string, lastChangedAt: Date): Promise<void> {
  return withTransaction(db, async (sql) => {
    await lockReservations(sql, [id]);
    await sql.query("UPDATE reservations SET last_changed_at = $2 WHERE id = $1", [id, lastChangedAt]);
  });
}
