// GreenFlow API v1: GET /bookings/{code}?lastname= with `Authorization: Bearer`.
import { z } from "zod";
import { readJson } from "../../lib/read-json.js";
import { parseRetryAfter } from "../../lib/retry-after.js";
import { classifyStatus, providerFetch, ProviderError } from "../provider-error.js";

const bookingSchema = z.object({
  uuid: z.string().optional(),
  booking_code: z.string(),
  local_number: z.string().nullable().optional(),
  status: z.string().min(1),
  pickup_date: z.string().nullable().optional(),
  dropoff_date: z.string().nullable().optional(),
  gds: z.object({ booking_code: z.string().nullable().optional(), status: z.string().nullable().optional() }).passthrough().nullable().optional(),
});

export type GreenflowBookingData = z.infer<typeof bookingSchema>;

export interface GreenflowClient {
  getBooking(code: string, lastname: string): Promise<GreenflowBookingData>;
}

function errorMessage(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as { message?: unknown; error?: unknown; reason?: unknown };
  if (typeof b.message === "string") return b.message;
  if (typeof b.error === "string") return typeof b.reason === "string" ? `${b.error}: ${b.reason}` : b.error;
  if (typeof b.error === "object" && b.error !== null && typeof (b.error as { message?: unknown }).message === "string") {
    return (b.error as { message: string }).message;
  }
  return undefined;
}

export function createGreenflowClient(opts: { baseUrl: string; apiKey: string; timeoutMs: number }): GreenflowClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  return {
    async getBooking(code, lastname) {
      const url = `${base}/bookings/${encodeURIComponent(code)}?lastname=${encodeURIComponent(lastname)}`;
      const response = await providerFetch(url, { headers: { authorization: `Bearer ${opts.apiKey}`, accept: "application/json" } }, opts.timeoutMs);
      const body = await readJson(response);
      if (!response.ok) {
        const detail = response.status === 404 ? "booking not found (another tenant's, or the lastname does not match)" : (errorMessage(body) ?? "no details");
        throw new ProviderError(
          classifyStatus(response.status),
          response.status,
          `greenflow ${response.status}: ${detail}`,
          parseRetryAfter(response.headers.get("retry-after")),
        );
      }
      const parsed = bookingSchema.safeParse((body as { data?: unknown } | undefined)?.data);
      if (!parsed.success) throw new ProviderError("unexpected", response.status, `greenflow booking response unreadable: ${parsed.error.issues[0]?.message}`);
      return parsed.data;
    },
  };
}
