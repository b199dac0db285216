// Static request headers a subscription sends with every attempt (docs/delivery.md, "Static headers"): a
// gateway in front of the subscriber may ask for its own key. Which names are allowed, and how values are
// shown: masked everywhere but on the wire.

/** An HTTP field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A field value: visible ASCII, spaces and tabs inside; no CR, LF or NUL. */
const VALUE = /^[\x21-\x7e\u00a0-\u00ff](?:[ \t\x21-\x7e\u00a0-\u00ff]*[\x21-\x7e\u00a0-\u00ff])?$/;

export const MAX_STATIC_HEADERS = 20;
const MAX_STATIC_HEADER_VALUE = 1024;
const MASKED = "****";

/** Names the hub sets itself (the protocol, the body, tracing, replays) or that belong to one hop only. */
const RESERVED = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "host",
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "traceparent",
  "tracestate",
  "hub-replay",
]);

/**
 * Why a header may not be set (the caller names the header), or null when it may: `webhook-*` and the names above always; `authorization`
 * unless the request allows it explicitly (it is how the subscriber's gateway would authenticate us, so a
 * value in it is a credential of theirs that we hold).
 */
export function refusedHeader(name: string, value: string, allowAuthorization: boolean): string | null {
  const lower = name.toLowerCase();
  if (!TOKEN.test(name)) return `${JSON.stringify(name)} is not a valid header name`;
  if (lower.startsWith("webhook-")) return "the webhook-* headers carry the signature; the hub sets them";
  if (RESERVED.has(lower)) return "the hub sets this header itself (or it belongs to one hop only)";
  if (lower === "authorization" && !allowAuthorization) return 'set "allowAuthorizationHeader": true to send an Authorization header';
  if (value.length > MAX_STATIC_HEADER_VALUE) return `a value of ${MAX_STATIC_HEADER_VALUE} characters at most`;
  if (!VALUE.test(value)) return "a value of visible characters (no line breaks, not empty)";
  return null;
}

/** The headers as every view shows them: the names, each value masked. */
export function maskHeaders(headers: Record<string, string> | null | undefined): Record<string, string> {
  return Object.fromEntries(Object.keys(headers ?? {}).map((name) => [name, MASKED]));
}
