// Flovi Partner API v2 (x-api-key): GET /customers/v2/reservation/:id for one reservation, and
// GET /customers/v2/reservations (newest first, cursor `start`/`nextStart`, `limit` ≤ 100) for the backfill.
import { z } from "zod";
import { readJson } from "../../lib/read-json.js";
import { parseRetryAfter } from "../../lib/retry-after.js";
import { ProviderError, type ProviderFailure, providerFetch } from "../provider-error.js";

/**
 * What a Flovi answer means for the caller. Unlike MFB's and GreenFlow's, a 403 here is about one
 * reservation (this key may not read it), not the credentials: `forbidden`, not `auth`.
 */
function floviFailure(status: number): ProviderFailure {
  if (status === 401) return "auth";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "transient";
  return "unexpected";
}

/** Flovi's error envelope: statusCode, errorCode, timestamp, path, correlationId, message (string or list). */
const errorEnvelope = z.object({
  statusCode: z.number().optional(),
  errorCode: z.string().optional(),
  correlationId: z.string().optional(),
  message: z.union([z.string(), z.array(z.string())]).optional(),
});

const reservationSchema = z
  .object({
    reservationId: z.union([z.string(), z.number()]).transform(String),
    status: z.string(),
    externalId: z.string().nullable().optional(),
    price: z.number().optional(),
    currency: z.string().optional(),
    priceBreakdown: z.array(z.unknown()).optional(),
    vehicle: z.record(z.string(), z.unknown()).optional(),
    createdAt: z.string().optional(),
  })
  .passthrough();

export type FloviReservation = z.infer<typeof reservationSchema>;

const pageSchema = z.object({
  data: z.array(reservationSchema),
  nextStart: z.union([z.string(), z.number()]).transform(String).nullable().optional(),
});

export interface ReservationPage {
  data: FloviReservation[];
  /** The cursor of the next (older) page; null on the last one. */
  nextStart: string | null;
}

/** The list endpoint's page size at most. */
export const MAX_PAGE = 100;

export interface FloviClient {
  readonly enabled: boolean;
  getReservation(id: string): Promise<FloviReservation>;
  /** One page of the partner's reservations, newest first, after `start` (a reservation id). */
  listReservations(opts: { start?: string | null; limit?: number; status?: string }): Promise<ReservationPage>;
}

export function createFloviClient(opts: { baseUrl: string; apiKey: string | undefined; timeoutMs: number }): FloviClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  /** One GET; every failure is a ProviderError with Flovi's own error code and correlation id. */
  async function get(path: string): Promise<{ status: number; body: unknown }> {
    if (!opts.apiKey) throw new ProviderError("unexpected", null, "FLOVI_API_KEY is not set", null, { code: "NOT_CONFIGURED" });
    const response = await providerFetch(`${base}${path}`, { headers: { "x-api-key": opts.apiKey, accept: "application/json" } }, opts.timeoutMs);
    const body = await readJson(response);
    if (!response.ok) {
      const envelope = errorEnvelope.safeParse(body);
      const e = envelope.success ? envelope.data : {};
      const message = Array.isArray(e.message) ? e.message.join("; ") : (e.message ?? `HTTP ${response.status}`);
      throw new ProviderError(floviFailure(response.status), response.status, message, parseRetryAfter(response.headers.get("retry-after")), {
        code: e.errorCode,
        correlationId: e.correlationId ?? null,
      });
    }
    return { status: response.status, body };
  }
  return {
    enabled: opts.apiKey !== undefined,
    async getReservation(id) {
      const { status, body } = await get(`/customers/v2/reservation/${encodeURIComponent(id)}`);
      const parsed = reservationSchema.safeParse(body);
      if (!parsed.success)
        throw new ProviderError("unexpected", status, "reservation response did not match the documented shape", null, { code: "INVALID_RESPONSE" });
      return parsed.data;
    },
    async listReservations({ start, limit = MAX_PAGE, status }) {
      const query = new URLSearchParams({ limit: String(Math.min(limit, MAX_PAGE)) });
      if (start) query.set("start", start);
      if (status) query.set("status", status);
      const { status: code, body } = await get(`/customers/v2/reservations?${query}`);
      const parsed = pageSchema.safeParse(body);
      if (!parsed.success)
        throw new ProviderError("unexpected", code, "reservation list did not match the documented shape", null, { code: "INVALID_RESPONSE" });
      return { data: parsed.data.data, nextStart: parsed.data.nextStart ?? null };
    },
  };
}
