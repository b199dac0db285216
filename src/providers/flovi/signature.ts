// Flovi signs each webhook with `x-hub-signature: sha256=<lowercase hex>`, the HMAC-SHA256 of the raw body.
import { createHmac, timingSafeEqual } from "node:crypto";

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: "missing_signature" | "malformed_signature" | "unsupported_algorithm" | "signature_mismatch" };

const DIGEST_BYTES = 32;
const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * Checks the header against every configured secret (rotation). Never throws: every malformed header is
 * a rejection, and the digest is compared in constant time only once it is known to be 32 bytes.
 */
export function verifyHubSignature(header: string | undefined, body: Buffer, secrets: readonly string[]): SignatureCheck {
  if (header === undefined || header.trim() === "") return { ok: false, reason: "missing_signature" };
  const separator = header.indexOf("=");
  if (separator <= 0) return { ok: false, reason: "malformed_signature" };
  const algorithm = header.slice(0, separator).trim();
  const digest = header.slice(separator + 1).trim();
  if (algorithm !== "sha256") return { ok: false, reason: "unsupported_algorithm" };
  if (!HEX_DIGEST.test(digest)) return { ok: false, reason: "malformed_signature" };
  const received = Buffer.from(digest, "hex");
  if (received.length !== DIGEST_BYTES) return { ok: false, reason: "malformed_signature" };

  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac("sha256", secret).update(body).digest();
    // Evaluate every secret (no early exit) so timing does not reveal which one matched.
    matched = timingSafeEqual(expected, received) || matched;
  }
  return matched ? { ok: true } : { ok: false, reason: "signature_mismatch" };
}
