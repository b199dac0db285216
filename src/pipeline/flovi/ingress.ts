// POST /webhooks/flovi, decided here and translated to HTTP in src/http/flovi-webhook.ts.
// Order matters: verify the signature over the raw bytes, classify the body, store durably (the answer
// waits for the commit), and only then enqueue (a failed enqueue is repaired by the inbound sweeper).
import type { Logger } from "pino";
import { digestBody, type InboundWriter, type StoredDelivery } from "../../db/inbound-deliveries.js";

export type { InboundWriter };
import type { BatchedEnqueuer } from "../../queues/batched-enqueue.js";
import { parseFloviBody, type PayloadWarning } from "../../providers/flovi/payload.js";
import { verifyHubSignature } from "../../providers/flovi/signature.js";

export type IngressOutcome =
  | { kind: "accepted"; id: string; duplicate: boolean; warnings: readonly PayloadWarning[] }
  | { kind: "ignored"; id: string; duplicate: boolean; reason: string }
  | { kind: "rejected"; id: string; duplicate: boolean; reason: string; detail?: string }
  | { kind: "unauthorized"; reason: string }
  | { kind: "not_configured" }
  | { kind: "unavailable"; reason: string };

export interface IngressDeps {
  writer: InboundWriter;
  enqueuer: BatchedEnqueuer<"processFloviDelivery">;
  secrets: readonly string[];
  log: Logger;
}

export interface IngressRequest {
  body: Buffer;
  signature: string | undefined;
  headers: Record<string, string>;
  requestId: string;
  /** The receiving span's W3C trace context, stored with the delivery (null: tracing off). */
  traceContext?: Record<string, string> | null;
}

/** Request headers worth keeping with the delivery (never the signature's secret, which we do not receive). */
export const STORED_HEADERS = ["content-type", "content-length", "user-agent", "x-hub-signature", "x-request-id", "x-forwarded-for"];

export async function receiveFloviWebhook(deps: IngressDeps, req: IngressRequest): Promise<IngressOutcome> {
  if (deps.secrets.length === 0) return { kind: "not_configured" };
  const check = verifyHubSignature(req.signature, req.body, deps.secrets);
  if (!check.ok) return { kind: "unauthorized", reason: check.reason };

  const verdict = parseFloviBody(req.body);
  const status = verdict.kind === "status_change" ? "received" : verdict.kind;
  const reason = verdict.kind === "status_change" ? null : verdict.reason;

  let stored: StoredDelivery;
  try {
    stored = await deps.writer.write({
      provider: "flovi",
      digest: digestBody(req.body),
      body: req.body,
      headers: req.headers,
      requestId: req.requestId,
      status,
      statusReason: reason,
      orderingKey: verdict.kind === "status_change" ? verdict.change.reservationId : null,
      warnings: verdict.kind === "status_change" ? verdict.change.warnings : [],
      traceContext: req.traceContext ?? null,
    });
  } catch (error) {
    deps.log.error({ err: error }, "flovi delivery could not be stored");
    return { kind: "unavailable", reason: "storage_unavailable" };
  }

  const { id, duplicate } = stored;
  if (stored.status === "ignored") return { kind: "ignored", id, duplicate, reason: stored.statusReason ?? "ignored" };
  if (stored.status === "rejected") {
    const detail = verdict.kind === "rejected" ? verdict.detail : undefined;
    return { kind: "rejected", id, duplicate, reason: stored.statusReason ?? "rejected", detail };
  }

  // Enqueued after the answer, batched; a failure leaves the row `received` for the inbound sweeper. A
  // duplicate whose first copy never reached the queue gets another chance here (the jobId dedupes otherwise).
  if (stored.status === "received") deps.enqueuer.push({ inboundDeliveryId: id, requestId: req.requestId });
  return { kind: "accepted", id, duplicate, warnings: verdict.kind === "status_change" ? verdict.change.warnings : [] };
}
