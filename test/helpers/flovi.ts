import request from "supertest";
import type { Express } from "express";
import { signBody } from "../../src/providers/flovi/signature.js";
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
