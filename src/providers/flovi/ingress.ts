// POST /webhooks/flovi, decided here and translated to HTTP in src/http/flovi-webhook.ts.
// Order matters: verify the signature over the raw bytes, classify the body, store durably, answer,
// and only then enqueue (a failed enqueue is repaired by the inbound sweeper).
import type { Logger } from "pino";
import { digestBody, storeInboundDelivery, type StoredDelivery } from "../../db/inbound-deliveries.js";
import type { Database } from "../../db/client.js";
import type { Queues } from "../../queues/queues.js";
import { parseFloviBody } from "./payload.js";
import { verifyHubSignature } from "./signature.js";

export type IngressOutcome =
  | { kind: "accepted"; id: string; duplicate: boolean; enqueued: boolean }
  | { kind: "ignored"; id: string; duplicate: boolean; reason: string }
  | { kind: "rejected"; id: string; duplicate: boolean; reason: string; detail?: string }
  | { kind: "unauthorized"; reason: string }
  | { kind: "not_configured" }
  | { kind: "unavailable"; reason: string };

export interface IngressDeps {
  db: Database;
  queues: Queues;
  secrets: readonly string[];
  log: Logger;
}

export interface IngressRequest {
  body: Buffer;
  signature: string | undefined;
  headers: Record<string, string>;
  requestId: string;
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
    stored = await storeInboundDelivery(deps.db, {
      provider: "flovi",
      digest: digestBody(req.body),
      body: req.body,
      headers: req.headers,
      requestId: req.requestId,
      status,
      statusReason: reason,
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

  // A duplicate whose first copy never reached the queue gets another chance here; the jobId makes it a no-op otherwise.
  let enqueued = false;
  if (stored.status === "received") {
    try {
      await deps.queues.enqueue("processFloviDelivery", { deliveryId: id, requestId: req.requestId });
      enqueued = true;
    } catch (error) {
      deps.log.warn({ deliveryId: id, err: error }, "flovi delivery stored but not enqueued; the sweeper will enqueue it");
    }
  }
  return { kind: "accepted", id, duplicate, enqueued };
}
