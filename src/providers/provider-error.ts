// How a provider call failed, in the terms the pollers act on.
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
  constructor(
    readonly kind: ProviderFailure,
    readonly httpStatus: number | null,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "ProviderError";
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
