import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signBody, verifyHubSignature } from "../../src/providers/flovi/signature.js";

const body = Buffer.from('{"state":"created","reservationId":"1"}');
const hex = (secret: string, data: Buffer = body) => createHmac("sha256", secret).update(data).digest("hex");

describe("x-hub-signature verification", () => {
  it("accepts the documented format", () => {
    expect(verifyHubSignature(`sha256=${hex("s1")}`, body, ["s1"])).toEqual({ ok: true });
    expect(signBody("s1", body)).toBe(`sha256=${hex("s1")}`);
  });

  it("matches the example in Flovi's documentation shape (sha256= + 64 lowercase hex)", () => {
    expect(signBody("k", "x")).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it("accepts any configured secret (rotation)", () => {
    expect(verifyHubSignature(`sha256=${hex("new")}`, body, ["old", "new"])).toEqual({ ok: true });
    expect(verifyHubSignature(`sha256=${hex("old")}`, body, ["old", "new"])).toEqual({ ok: true });
  });

  it("accepts bare lowercase hex, as Flovi's own example computes it, for every configured secret", () => {
    expect(verifyHubSignature(hex("s1"), body, ["s1"])).toEqual({ ok: true });
    expect(verifyHubSignature(` ${hex("new")} `, body, ["old", "new"])).toEqual({ ok: true });
  });

  it.each([
    ["missing", undefined, "missing_signature"],
    ["empty", "", "missing_signature"],
    ["bare hex, truncated", hex("s1").slice(0, 62), "malformed_signature"],
    ["bare hex, uppercase", hex("s1").toUpperCase(), "malformed_signature"],
    ["bare hex of another secret", hex("other"), "signature_mismatch"],
    ["an empty algorithm", `=${hex("s1")}`, "malformed_signature"],
    ["sha1 prefix", `sha1=${hex("s1").slice(0, 40)}`, "unsupported_algorithm"],
    ["uppercase algorithm", `SHA256=${hex("s1")}`, "unsupported_algorithm"],
    ["uppercase digest", `sha256=${hex("s1").toUpperCase()}`, "malformed_signature"],
    ["short digest", `sha256=${hex("s1").slice(0, 62)}`, "malformed_signature"],
    ["long digest", `sha256=${hex("s1")}00`, "malformed_signature"],
    ["non-hex digest", `sha256=${"z".repeat(64)}`, "malformed_signature"],
    ["wrong secret", `sha256=${hex("other")}`, "signature_mismatch"],
  ])("rejects %s", (_name, header, reason) => {
    expect(verifyHubSignature(header, body, ["s1"])).toEqual({ ok: false, reason });
  });

  it("rejects a body altered by one byte", () => {
    const altered = Buffer.from(body);
    altered[5] = altered[5]! ^ 1;
    expect(verifyHubSignature(`sha256=${hex("s1")}`, altered, ["s1"])).toEqual({ ok: false, reason: "signature_mismatch" });
  });
});
