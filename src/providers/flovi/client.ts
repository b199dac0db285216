// Flovi Partner API v2: the one call this service makes, GET /customers/v2/reservation/:id (x-api-key).
import { z } from "zod";
import { readJson } from "../../lib/read-json.js";
import { parseRetryAfter } from "../../lib/retry-after.js";

export class FloviApiError extends Error {
  constructor(
    readonly statusCode: number | null,
    readonly errorCode: string,
    readonly correlationId: string | null,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "FloviApiError";
  }
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
  })
  .passthrough();

export type FloviReservation = z.infer<typeof reservationSchema>;

export interface FloviClient {
  readonly enabled: boolean;
  getReservation(id: string): Promise<FloviReservation>;
}

export function createFloviClient(opts: { baseUrl: string; apiKey: string | undefined; timeoutMs: number }): FloviClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  return {
    enabled: opts.apiKey !== undefined,
    async getReservation(id) {
      if (!opts.apiKey) throw new FloviApiError(null, "NOT_CONFIGURED", null, "FLOVI_API_KEY is not set");
      let response: Response;
      try {
        response = await fetch(`${base}/customers/v2/reservation/${encodeURIComponent(id)}`, {
          headers: { "x-api-key": opts.apiKey, accept: "application/json" },
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (error) {
        throw new FloviApiError(null, "NETWORK_ERROR", null, (error as Error).message);
      }
      const body = await readJson(response);
      if (!response.ok) {
        const envelope = errorEnvelope.safeParse(body);
        const e = envelope.success ? envelope.data : {};
        const message = Array.isArray(e.message) ? e.message.join("; ") : (e.message ?? `HTTP ${response.status}`);
        throw new FloviApiError(
          response.status,
          e.errorCode ?? `HTTP_${response.status}`,
          e.correlationId ?? null,
          message,
          parseRetryAfter(response.headers.get("retry-after")),
        );
      }
      const parsed = reservationSchema.safeParse(body);
      if (!parsed.success) throw new FloviApiError(response.status, "INVALID_RESPONSE", null, "reservation response did not match the documented shape");
      return parsed.data;
    },
  };
}
