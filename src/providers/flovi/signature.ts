// Flovi signs each webhook with the HMAC-SHA256 of the raw body in `x-hub-signature`. Its documentation shows
// the header as `sha256=<lowercase hex>`, while its own text and Node.js example compute bare lowercase hex:
// both forms verify (docs/security.md). Either way the 32-byte digest is compared in constant time.
import { createHmac, timingSafeEqual } from "node:crypto";

export type SignatureCheck = { ok: true } | { ok: false; reason: "missing_signature" | "malformed_signature" | "unsupported_algorithm" | "signature_mismatch" };

const DIGEST_BYTES = 32;
const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export type HeaderCheck = { ok: true; digest: Buffer } | Extract<SignatureCheck, { ok: false }>;

/** What the header itself says, before any body is read: the ingress refuses a bad header without reading one. */
export function parseHubSignature(header: string | undefined): HeaderCheck {
  if (header === undefined || header.trim() === "") return { ok: false, reason: "missing_signature" };
  // Bare hex, as Flovi's own example computes it: the algorithm is implied (sha256, the only one Flovi uses).
  if (HEX_DIGEST.test(header.trim())) return { ok: true, digest: Buffer.from(header.trim(), "hex") };
  const separator = header.indexOf("=");
  if (separator <= 0) return { ok: false, reason: "malformed_signature" };
  const algorithm = header.slice(0, separator).trim();
  const digest = header.slice(separator + 1).trim();
  if (algorithm !== "sha256") return { ok: false, reason: "unsupported_algorithm" };
  if (!HEX_DIGEST.test(digest)) return { ok: false, reason: "malformed_signature" };
  const received = Buffer.from(digest, "hex");
  if (received.length !== DIGEST_BYTES) return { ok: false, reason: "malformed_signature" };
  return { ok: true, digest: received };
}

/** What each refusal tells the sender. */
export const SIGNATURE_MESSAGES: Record<Extract<SignatureCheck, { ok: false }>["reason"], string> = {
  missing_signature: "x-hub-signature is missing",
  malformed_signature: "x-hub-signature must be sha256=<64 lowercase hex digits> (or the 64 hex digits alone)",
  unsupported_algorithm: "x-hub-signature must use sha256",
  signature_mismatch: "x-hub-signature does not verify (wrong secret, or the body was changed)",
};

/**
 * Checks the header against every configured secret (rotation). Never throws: every malformed header is
 * a rejection, and the digest is compared in constant time only once it is known to be 32 bytes.
 */
export function verifyHubSignature(header: string | undefined, body: Buffer, secrets: readonly string[]): SignatureCheck {
  const parsed = parseHubSignature(header);
  if (!parsed.ok) return parsed;
  const received = parsed.digest;

  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac("sha256", secret).update(body).digest();
    // Evaluate every secret (no early exit) so timing does not reveal which one matched.
    matched = timingSafeEqual(expected, received) || matched;
  }
  return matched ? { ok: true } : { ok: false, reason: "signature_mismatch" };
}
