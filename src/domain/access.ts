// Who may do what (docs/security.md, "Access"): three operator roles, each a superset of the one before.
//   viewer    reads everything an operator reads (raw bodies redacted as for everyone) and changes nothing;
//   operator  also replays, re-sends, recovers, manages tracking and any subscription;
//   admin     also manages tokens and consumers.
// One rule for every route, so a new route is covered the day it is written: reads need a viewer, writes an
// operator, and anything under /admin/tokens or /admin/consumers an admin (listing included).
// A consumer (a downstream service) is not a role above or below these: it may use its own subscriptions'
// routes, read the event log and the snapshots (CONSUMER_ROUTES), each within its own scope, and nothing else.
export type Role = "viewer" | "operator" | "admin";

export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

const rank = (role: Role) => ROLES.indexOf(role);

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The least role a request needs. `path` is the request's path, without its query. */
export function requiredRole(method: string, path: string): Role {
  if (/^\/admin\/(console\/)?(tokens|consumers)(\/|$)/.test(path)) return "admin";
  return READS.has(method.toUpperCase()) ? "viewer" : "operator";
}

export function allows(held: Role, needed: Role): boolean {
  return rank(held) >= rank(needed);
}

/** What a consumer's token may call: its own subscriptions (checked by the routes), the event log and snapshots of its types. */
const CONSUMER_ROUTES: readonly [method: string, path: RegExp][] = [
  ["GET", /^\/subscriptions$/],
  ["POST", /^\/subscriptions$/],
  ["GET", /^\/subscriptions\/[^/]+$/],
  ["PATCH", /^\/subscriptions\/[^/]+$/],
  ["DELETE", /^\/subscriptions\/[^/]+$/],
  ["POST", /^\/subscriptions\/[^/]+\/(test|rotate-secret|enable|disable|recover|replay)$/],
  ["GET", /^\/subscriptions\/[^/]+\/replays\/[^/]+$/],
  ["GET", /^\/subscriptions\/[^/]+\/deliveries$/],
  ["POST", /^\/subscriptions\/[^/]+\/deliveries\/[^/]+\/retry$/],
  ["GET", /^\/events$/],
  ["GET", /^\/snapshot\/[^/]+$/],
];

export function consumerMay(method: string, path: string): boolean {
  const m = method.toUpperCase() === "HEAD" ? "GET" : method.toUpperCase();
  return CONSUMER_ROUTES.some(([allowed, pattern]) => allowed === m && pattern.test(path));
}

/** Whether an allowed pattern covers a requested one: `*` covers all, `reservation.*` its entity's, a type itself. */
function patternCovers(allowed: string, requested: string): boolean {
  if (allowed === "*" || allowed === requested) return true;
  return allowed.endsWith(".*") && requested !== "*" && requested.startsWith(allowed.slice(0, -1));
}

/** The requested patterns no allowed pattern covers (empty: all allowed). */
export function uncovered(allowed: readonly string[], requested: readonly string[]): string[] {
  return requested.filter((r) => !allowed.some((a) => patternCovers(a, r)));
}
