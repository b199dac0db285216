// How a provider call failed, in the terms its callers act on: one error type and one fetch path for Flovi,
// MyFlyingBox and GreenFlow alike. `kind` is what to do; `code` and `correlationId` are the provider's own
// words for it (Flovi's errorCode, MFB's error type), for logs and operators.
export type ProviderFailure =
  /** Credentials refused: pause every poll of this provider, burn no retries. */
  | "auth"
  /** MFB's access_denied: bad credentials or no rights to this item; the poller checks which. */
  | "access_denied"
  /** The item exists but is not ours to read: stop polling it, leave the provider alone. */
  | "forbidden"
  /** The item does not exist (or is not ours): stop polling it. */
  | "not_found"
  /** Too many requests: wait Retry-After, queue-wide. */
  | "rate_limited"
  /** 5xx, timeouts, network: retry with backoff. */
  | "transient"
  /** Anything else (422, a response we cannot read): keep the item, record the error, back off. */
  | "unexpected";

export class ProviderError extends Error {
  /** The provider's error code when it gave one; else `HTTP_<status>`, or NETWORK_ERROR for no answer. */
  readonly code: string;
  /** The provider's id for this failure, when it gave one (Flovi's correlationId). */
  readonly correlationId: string | null;

  constructor(
    readonly kind: ProviderFailure,
    readonly httpStatus: number | null,
    message: string,
    readonly retryAfterMs: number | null = null,
    said: { code?: string; correlationId?: string | null } = {},
  ) {
    super(message);
    this.name = "ProviderError";
    this.code = said.code ?? (httpStatus !== null ? `HTTP_${httpStatus}` : kind === "transient" ? "NETWORK_ERROR" : kind.toUpperCase());
    this.correlationId = said.correlationId ?? null;
  }

  /** The fields a log line about it carries. */
  get logFields(): { statusCode: number | null; errorCode: string; correlationId: string | null } {
    return { statusCode: this.httpStatus, errorCode: this.code, correlationId: this.correlationId };
  }
}

export function classifyStatus(status: number): ProviderFailure {
  if (status === 401 || status === 403) return "auth";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "transient";
  return "unexpected";
}

/** fetch with a deadline; network failures and timeouts become transient ProviderErrors. */
export async function providerFetch(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const err = error as Error;
    const message = err.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : ((err.cause as Error | undefined)?.message ?? err.message);
    throw new ProviderError("transient", null, message);
  }
}
