// Text that reaches Postgres from outside (subscriber answers, error messages) must be storable: a TEXT
// column refuses NUL, and a lone UTF-16 surrogate cannot be encoded. Such text is repaired, never refused.

/** Removes NUL characters and replaces lone surrogates with U+FFFD. */
export function storableText(value: string): string {
  const withoutNul = value.includes("\u0000") ? value.replaceAll("\u0000", "") : value;
  return withoutNul.isWellFormed() ? withoutNul : withoutNul.toWellFormed();
}

export function storableTextOrNull(value: string | null | undefined): string | null {
  return value == null ? null : storableText(value);
}

/** Nesting deeper than this is refused: no payload we accept comes close, and the walk stays bounded. */
const MAX_DEPTH = 32;

/**
 * What makes a parsed JSON value (or a query, or a path) impossible to store as text or jsonb: a NUL or a lone
 * surrogate in a string or key, a number JSON.parse turned into Infinity (1e400), or nesting past MAX_DEPTH.
 * Returns what is wrong, or null.
 */
export function unstorableValue(value: unknown, depth = 0): string | null {
  if (depth > MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
  if (typeof value === "string") {
    if (value.includes("\u0000")) return "a string contains a NUL character";
    if (!value.isWellFormed()) return "a string contains a lone UTF-16 surrogate";
    return null;
  }
  if (typeof value === "number") return Number.isFinite(value) ? null : "a number is too large to represent";
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = unstorableValue(item, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const problem = unstorableValue(key, depth + 1) ?? unstorableValue(item, depth + 1);
      if (problem) return problem;
    }
  }
  return null;
}

/**
 * A path of plain segments: no query or fragment, no `.` or `..` segment, no empty one, nothing to decode.
 * Each segment begins with its slash, so a path splits into segments one way only: the match is linear in
 * the path's length (an optional slash between segments would let it split a long name in 2ⁿ ways).
 */
const PLAIN_PATH = /^(?:\/|(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+\/?)$/;

/**
 * A URL fit for logs, audit rows and screens: its query values masked (`?token=***`), its fragment dropped,
 * a broker URL's credentials masked (`amqp://***@mq.internal:5672/billing`). Secrets ride in query strings
 * (`?token=…`, `?key=…`) and in a broker URL's user info; what is left says enough to recognise the URL.
 */
export function maskUrl(value: string): string {
  // Most are a request's plain path (`/webhooks/flovi`), which a URL parser would give back unchanged:
  // every request's log line skips the parser.
  if (PLAIN_PATH.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value, "http://relative.invalid");
  } catch {
    return value.split(/[?#]/)[0]!;
  }
  const relative = url.origin === "http://relative.invalid" && !/^[a-z][a-z0-9+.-]*:/i.test(value);
  const query = [...url.searchParams.keys()].map((name) => `${encodeURIComponent(name)}=***`).join("&");
  // A broker URL (amqp://, nats://) has no origin; its credentials (user and password) are masked whole.
  const origin = url.origin === "null" ? `${url.protocol}//${url.username || url.password ? "***@" : ""}${url.host}` : url.origin;
  const base = relative ? url.pathname : `${origin}${url.pathname}`;
  return query ? `${base}?${query}` : base;
}

/** `1 delivery`, `3 deliveries`. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
