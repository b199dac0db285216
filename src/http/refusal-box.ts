// Cheap refusal for a sender of wrong signatures. A wrong signature can only be told after the whole body is
// read and hashed, so a flood of large badly signed bodies costs a full read each. After `limit` signature
// failures from one address within `windowMs`, that address's next webhooks are refused for `blockMs` with
// 429 and Retry-After, before a byte of their bodies is read. A sender with the right secret never fails,
// so it is never refused; Flovi retries what a 429 refused. Behind a proxy, set TRUST_PROXY so that the
// address is the client's, not the proxy's (docs/security.md).
export interface RefusalBox {
  /** Until when this address is refused, or null. */
  blockedUntil(address: string, now?: number): number | null;
  /** A signature failure from this address. */
  failed(address: string, now?: number): void;
}

const MAX_ADDRESSES = 10_000;

export function createRefusalBox(opts: { limit: number; windowMs: number; blockMs: number }): RefusalBox {
  const seen = new Map<string, { failures: number[]; blockedUntil: number }>();
  return {
    blockedUntil(address, now = Date.now()) {
      const entry = seen.get(address);
      if (!entry || entry.blockedUntil <= now) return null;
      return entry.blockedUntil;
    },
    failed(address, now = Date.now()) {
      let entry = seen.get(address);
      if (!entry) {
        if (seen.size >= MAX_ADDRESSES) seen.delete(seen.keys().next().value!);
        entry = { failures: [], blockedUntil: 0 };
        seen.set(address, entry);
      }
      entry.failures = entry.failures.filter((at) => at > now - opts.windowMs);
      entry.failures.push(now);
      if (opts.limit > 0 && entry.failures.length >= opts.limit) {
        entry.blockedUntil = now + opts.blockMs;
        entry.failures = [];
      }
    },
  };
}
