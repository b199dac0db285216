// The delivery's `webhook-signature` header is computed with node:crypto (src/delivery/deliver.ts): it must be
// exactly what the standardwebhooks library signs, and verify with it, for any secret, id, time and body.
import { randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { signatureHeader } from "../../src/delivery/deliver.js";

const secret = () => `whsec_${randomBytes(32).toString("base64")}`;

describe("signatureHeader", () => {
  it("is the library's signature, and verifies with it, for bodies of any characters and size", () => {
    const bodies = ['{"a":1}', JSON.stringify({ name: "Zoë 🚗 Ōsaka", note: "x".repeat(70_000) }), ""];
    for (const body of bodies) {
      const key = secret();
      const id = randomUUID();
      const at = new Date(1_796_000_000_123);
      const header = signatureHeader([key], id, at, body);
      expect(header).toBe(new Webhook(key).sign(id, at, body));
      const headers = { "webhook-id": id, "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "" };
      headers["webhook-signature"] = signatureHeader([key], id, new Date(Number(headers["webhook-timestamp"]) * 1000), body);
      expect(() => new Webhook(key).verify(body, headers)).not.toThrow();
    }
  });

  it("signs with every secret during a rotation, space-separated, in the order given", () => {
    const [current, previous] = [secret(), secret()];
    const at = new Date();
    const header = signatureHeader([current, previous], "msg_1", at, "{}");
    expect(header.split(" ")).toEqual([new Webhook(current).sign("msg_1", at, "{}"), new Webhook(previous).sign("msg_1", at, "{}")]);
  });

  it("takes a secret without its whsec_ prefix as the library does", () => {
    const bytes = randomBytes(24).toString("base64");
    const at = new Date();
    expect(signatureHeader([bytes], "msg_2", at, "{}")).toBe(new Webhook(`whsec_${bytes}`).sign("msg_2", at, "{}"));
  });
});
