// MyFlyingBox v2 with HTTP Basic; every answer is the envelope {status, self, data | error{type, message, details}}.
// Three calls: GET /orders/:id/tracking (every poll), GET /orders/:id (once per order: parcels, carrier,
// product, price) and GET / (the credentials check behind an access_denied).
import { z } from "zod";
import { readJson } from "../../lib/read-json.js";
import { parseRetryAfter } from "../../lib/retry-after.js";
import { classifyStatus, providerFetch, ProviderError, type ProviderFailure } from "../provider-error.js";
import { readTracking, type ParcelTracking } from "./tracking.js";

const envelope = z.object({
  status: z.enum(["success", "failure"]),
  self: z.string().optional(),
  data: z.unknown().optional(),
  error: z.object({ type: z.string(), message: z.string().optional(), details: z.unknown().optional() }).optional(),
});

/**
 * The error type refines the HTTP code. `access_denied` means "not authenticated *or* no sufficient access
 * rights": the caller tells the two apart with checkCredentials(). A 404 is about the order only when it says
 * resource_not_found.
 */
function classifyMfbError(status: number, type: string): ProviderFailure {
  switch (type) {
    case "access_denied":
      return "access_denied";
    case "resource_not_found":
      return "not_found";
    case "internal":
      return "transient";
  }
  // not_found (a wrong path), labels_not_ready, or a 404 without MFB's envelope: not a verdict on the order.
  return status === 404 ? "unexpected" : classifyStatus(status);
}

const price = z
  .object({ formatted: z.string().optional(), currency: z.string().optional(), amount: z.number().optional(), amount_in_cents: z.number().optional() })
  .passthrough();

const orderSchema = z
  .object({
    parcels: z.array(z.unknown()).optional(),
    offer: z
      .object({
        product: z.object({ code: z.string().optional(), carrier_code: z.string().optional(), name: z.string().optional() }).passthrough().optional(),
        total_price: price.optional(),
        price: price.optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export interface MfbOrderDetails {
  parcelCount: number | null;
  carrier: string | null;
  product: string | null;
  productName: string | null;
  /** total_price (VAT included), else price. */
  price: Record<string, unknown> | null;
}

export interface MfbTracking {
  parcels: ParcelTracking[];
  /** Events left out: no code, or a time that could not be read at all. */
  skipped: number;
}

export interface MfbClient {
  getTracking(orderId: string): Promise<MfbTracking>;
  getOrder(orderId: string): Promise<MfbOrderDetails>;
  /** true when MFB accepts our credentials (GET / answers success), false when it answers access_denied. */
  checkCredentials(): Promise<boolean>;
}

export function createMfbClient(opts: { baseUrl: string; login: string; password: string; timeoutMs: number }): MfbClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const authorization = `Basic ${Buffer.from(`${opts.login}:${opts.password}`).toString("base64")}`;

  async function get(path: string): Promise<unknown> {
    const response = await providerFetch(`${base}${path}`, { headers: { authorization, accept: "application/json" } }, opts.timeoutMs);
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
    return body?.data;
  }

  return {
    async getTracking(orderId) {
      const data = await get(`/orders/${encodeURIComponent(orderId)}/tracking`);
      const tracking = readTracking(data);
      if (!tracking) throw new ProviderError("unexpected", 200, "mfb tracking response unreadable: data is not a list of parcels");
      return tracking;
    },
    async getOrder(orderId) {
      const parsed = orderSchema.safeParse(await get(`/orders/${encodeURIComponent(orderId)}`));
      if (!parsed.success) throw new ProviderError("unexpected", 200, "mfb order response unreadable");
      const { parcels, offer } = parsed.data;
      return {
        parcelCount: parcels ? parcels.length : null,
        carrier: offer?.product?.carrier_code ?? null,
        product: offer?.product?.code ?? null,
        productName: offer?.product?.name ?? null,
        price: (offer?.total_price ?? offer?.price ?? null) as Record<string, unknown> | null,
      };
    },
    async checkCredentials() {
      try {
        await get("/");
        return true;
      } catch (error) {
        if (error instanceof ProviderError && (error.kind === "access_denied" || error.kind === "auth")) return false;
        throw error;
      }
    },
  };
}
