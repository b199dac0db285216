// Authentication of operators' tokens (docs/security.md): ADMIN_TOKEN, the bootstrap admin, or a named token
// with a role. A named token is found by its SHA-256 and the answer cached for TOKEN_CACHE_MS, so a request
// costs no database round trip while its token is warm, and a revoked token stops working on every api
// process within that time (no LISTEN/NOTIFY, which PgBouncer's transaction mode breaks, and no Redis).
import { createHash, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { anyLiveToken, findGrant, recordTokenUses, type TokenGrant } from "../db/api-tokens.js";
import type { Database } from "../db/client.js";
import type { Role } from "../domain/access.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { TOKEN_PREFIX } from "./tokens.js";

/** Who made an authenticated management call. */
export interface Principal {
  /** The token's name; "admin" for ADMIN_TOKEN; the consumer's name for a consumer's token. */
  name: string;
  role: Role | "consumer";
  /** A consumer's token: which consumer, and the event types it may subscribe to and read. */
  consumer?: { id: string; name: string; eventTypes: string[] };
  /** The named token's id; absent for ADMIN_TOKEN. */
  tokenId?: string;
  /** A key bound to the credential presented (its SHA-256): the console's CSRF tokens are derived from it. */
  credentialKey: Buffer;
}

/** How long a token's look-up is trusted: a revoked token stops working on every api process within this. */
export const TOKEN_CACHE_MS = 1_000;
/** Last uses are written together, at most this often (one statement for every token used meanwhile). */
const LAST_USE_FLUSH_MS = 5_000;
const CACHE_LIMIT = 10_000;

export interface Authenticator {
  /** The principal of a presented token; null when it opens nothing; "unconfigured" when nothing could. */
  authenticate(presented: string | undefined): Promise<Principal | "unconfigured" | null>;
  /** Writes the last uses not yet written (shutdown). */
  flush(): Promise<void>;
}

/**
 * ADMIN_TOKEN is compared in constant time (both sides hashed first, so lengths never leak). Without
 * ADMIN_TOKEN and with no live named token, nothing can open the protected endpoints: "unconfigured".
 */
export function createAuthenticator(opts: { adminToken: string | undefined; db: Database; log: Logger; clock?: Clock }): Authenticator {
  const clock = opts.clock ?? systemClock;
  const bootstrap = opts.adminToken ? createHash("sha256").update(opts.adminToken).digest() : undefined;
  const grants = new Map<string, { grant: TokenGrant | null; until: number }>();
  let anyLive: { value: boolean; until: number } | undefined;
  const uses = new Map<string, Date>();

  const lookUp = async (digest: string): Promise<TokenGrant | null> => {
    const now = clock.now();
    const cached = grants.get(digest);
    if (cached && cached.until > now) return cached.grant;
    const grant = await findGrant(opts.db, digest);
    if (grants.size >= CACHE_LIMIT) grants.clear();
    grants.set(digest, { grant, until: now + TOKEN_CACHE_MS });
    return grant;
  };
  const namedTokensExist = async (): Promise<boolean> => {
    const now = clock.now();
    if (!anyLive || anyLive.until <= now) anyLive = { value: await anyLiveToken(opts.db), until: now + TOKEN_CACHE_MS };
    return anyLive.value;
  };
  const flush = async () => {
    if (uses.size === 0) return;
    const batch = [...uses].map(([id, at]) => ({ id, at }));
    uses.clear();
    await recordTokenUses(opts.db, batch).catch((error: unknown) => opts.log.warn({ err: error }, "token last use not recorded"));
  };
  clock.interval(() => void flush(), LAST_USE_FLUSH_MS);

  const authenticate = async (presented: string | undefined): Promise<Principal | "unconfigured" | null> => {
    if (presented === undefined || presented.length === 0) return bootstrap || (await namedTokensExist()) ? null : "unconfigured";
    const digest = createHash("sha256").update(presented).digest();
    if (bootstrap && timingSafeEqual(digest, bootstrap)) return { name: "admin", role: "admin", credentialKey: digest };
    // Only a value of the hub's own shape is looked up: a random guess costs no database read.
    const grant = presented.startsWith(TOKEN_PREFIX) ? await lookUp(digest.toString("hex")) : null;
    if (grant && (!grant.expiresAt || grant.expiresAt.getTime() > clock.now())) {
      uses.set(grant.id, new Date(clock.now()));
      if (grant.consumerId)
        return {
          name: grant.consumerName ?? grant.name,
          role: "consumer",
          tokenId: grant.id,
          credentialKey: digest,
          consumer: { id: grant.consumerId, name: grant.consumerName ?? grant.name, eventTypes: grant.consumerEventTypes ?? [] },
        };
      return { name: grant.name, role: grant.role, tokenId: grant.id, credentialKey: digest };
    }
    return bootstrap || (await namedTokensExist()) ? null : "unconfigured";
  };
  return { authenticate, flush };
}
