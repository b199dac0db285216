// The inbound delivery store. The ingress insert is one round trip on the raw pool (the hot path);
// everything else goes through Prisma.
import { createHash } from "node:crypto";
import type { Database } from "./client.js";

export type InboundStatus = "received" | "processed" | "ignored" | "rejected" | "failed";

export interface StoredDelivery {
  id: string;
  status: InboundStatus;
  statusReason: string | null;
  duplicate: boolean;
}

export function digestBody(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

const INSERT = `
WITH inserted AS (
  INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, request_id, status, status_reason)
  VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (provider, body_digest) DO NOTHING
  RETURNING id, status, status_reason
)
SELECT id, status, status_reason, false AS duplicate FROM inserted
UNION ALL
SELECT id, status, status_reason, true AS duplicate FROM inbound_deliveries
 WHERE provider = $1 AND body_digest = $2 AND NOT EXISTS (SELECT 1 FROM inserted)`;

const FIND = `SELECT id, status, status_reason, true AS duplicate FROM inbound_deliveries WHERE provider = $1 AND body_digest = $2`;

interface Row {
  id: string;
  status: InboundStatus;
  status_reason: string | null;
  duplicate: boolean;
}

/**
 * Stores a delivery unless its body was stored before; either way returns the stored row. Resolves only
 * once the row is committed (autocommit), which is what makes a 202 safe.
 */
export async function storeInboundDelivery(
  db: Database,
  input: {
    provider: string;
    digest: string;
    body: Buffer;
    headers: Record<string, string>;
    requestId: string;
    status: InboundStatus;
    statusReason: string | null;
  },
): Promise<StoredDelivery> {
  const params = [input.provider, input.digest, input.body, JSON.stringify(input.headers), input.requestId, input.status, input.statusReason];
  let { rows } = await db.pool.query<Row>(INSERT, params);
  if (rows.length === 0) {
    // A concurrent insert of the same body committed after this statement's snapshot: read it now.
    ({ rows } = await db.pool.query<Row>(FIND, [input.provider, input.digest]));
  }
  const row = rows[0];
  if (!row) throw new Error("inbound delivery neither inserted nor found");
  return { id: row.id, status: row.status, statusReason: row.status_reason, duplicate: row.duplicate };
}

/** Deliveries accepted at the door but still unprocessed after `olderThanMs`: candidates for re-enqueue. */
export async function findUnprocessedDeliveries(db: Database, olderThanMs: number, limit: number) {
  return db.prisma.inboundDelivery.findMany({
    where: { status: "received", receivedAt: { lt: new Date(Date.now() - olderThanMs) } },
    select: { id: true, requestId: true },
    orderBy: { receivedAt: "asc" },
    take: limit,
  });
}
