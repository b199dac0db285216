// MyFlyingBox v2: GET /orders/:id/tracking with HTTP Basic, JSON envelope {status, self, data | error}.
import { z } from "zod";
import { readJson } from "../../lib/read-json.js";
import { parseRetryAfter } from "../../lib/retry-after.js";
import { classifyStatus, providerFetch, ProviderError, type ProviderFailure } from "../../polling/provider-error.js";
import { trackingData, type ParcelTracking } from "./tracking.js";

const envelope = z.object({
  status: z.enum(["success", "failure"]),
  self: z.string().optional(),
  data: z.unknown().optional(),
  error: z.object({ type: z.string(), message: z.string().optional(), details: z.unknown().optional() }).optional(),
});

/** The error type refines the HTTP code: a 404 is about the order only when it says resource_not_found. */
function classifyMfbError(status: number, type: string): ProviderFailure {
  switch (type) {
    case "access_denied":
      return "auth";
    case "resource_not_found":
      return "not_found";
    case "internal":
      return "transient";
  }
  // not_found (a wrong path), labels_not_ready, or a 404 without MFB's envelope: not a verdict on the order.
  return status === 404 ? "unexpected" : classifyStatus(status);
}

export interface MfbClient {
  getTracking(orderId: string): Promise<ParcelTracking[]>;
}

export function createMfbClient(opts: { baseUrl: string; login: string; password: string; timeoutMs: number }): MfbClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const authorization = `Basic ${Buffer.from(`${opts.login}:${opts.password}`).toString("base64")}`;
  return {
    async getTracking(orderId) {
      const response = await providerFetch(
        `${base}/orders/${encodeURIComponent(orderId)}/tracking`,
        { headers: { authorization, accept: "application/json" } },
        opts.timeoutMs,
      );
      const parsed = envelope.safeParse(await readJson(response));
      const body = parsed.success ? parsed.data : undefined;
      if (!response.ok || body?.status === "failure") {
        const type = body?.error?.type ?? `http_${response.status}`;
        throw new ProviderError(
          response.ok ? "unexpected" : classifyMfbError(response.status, type),
          response.status,
          `mfb ${response.status} ${type}${body?.error?.message ? `: ${body.error.message}` : ""}`,
          parseRetryAfter(response.headers.get("retry-after")),
        );
      }
      const data = trackingData.safeParse(body?.data);
      if (!data.success) throw new ProviderError("unexpected", response.status, `mfb tracking response unreadable: ${data.error.issues[0]?.message}`);
      return data.data;
    },
  };
}
