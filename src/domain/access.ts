// Who may do what (docs/security.md, "Access"): three roles, each a superset of the one before.
//   viewer    reads everything an operator reads (raw bodies redacted as for everyone) and changes nothing;
//   operator  also replays, re-sends, recovers, manages tracking and any subscription;
//   admin     also manages tokens.
// One rule for every route, so a new route is covered the day it is written: reads need a viewer, writes an
// operator, and anything under /admin/tokens an admin (listing tokens included).
export type Role = "viewer" | "operator" | "admin";

export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

const rank = (role: Role) => ROLES.indexOf(role);

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The least role a request needs. `path` is the request's path, without its query. */
export function requiredRole(method: string, path: string): Role {
  if (/^\/admin\/tokens(\/|$)/.test(path) || /^\/admin\/console\/tokens(\/|$)/.test(path)) return "admin";
  return READS.has(method.toUpperCase()) ? "viewer" : "operator";
}

export function allows(held: Role, needed: Role): boolean {
  return rank(held) >= rank(needed);
}
