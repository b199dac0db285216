// The inbound delivery store. The ingress hot path goes through a batching writer: requests that arrive
// together are inserted by one statement (one commit, one round trip), and each request is answered only
// once the statement that holds its row has committed. Everything else goes through Prisma.
import { createHash } from "node:crypto";
import type { Database } from "./client.js";

export type InboundStatus = "received" | "processed" | "ignored" | "rejected" | "failed";

export interface StoredDelivery {
  id: string;
  status: InboundStatus;
  statusReason: string | null;
  duplicate: boolean;
}

export interface NewInboundDelivery {
  provider: string;
  digest: string;
  body: Buffer;
  headers: Record<string, string>;
  requestId: string;
  status: InboundStatus;
  statusReason: string | null;
}

export function digestBody(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

const INSERT_BATCH = `
INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, request_id, status, status_reason)
SELECT gen_random_uuid(), t.provider, t.digest, t.body, t.headers, t.request_id, t.status, t.reason
  FROM unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[], $5::text[], $6::text[], $7::text[])
       WITH ORDINALITY AS t(provider, digest, body, headers, request_id, status, reason, ord)
 ORDER BY t.ord
ON CONFLICT (provider, body_digest) DO NOTHING
RETURNING id, provider, body_digest, status, status_reason`;

const FIND = `
SELECT id, provider, body_digest, status, status_reason FROM inbound_deliveries
 WHERE (provider, body_digest) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

interface Row {
  id: string;
  provider: string;
  body_digest: string;
  status: InboundStatus;
  status_reason: string | null;
}

const keyOf = (provider: string, digest: string) => `${provider}:${digest}`;

/** Inserts a batch; returns one result per input, in order. A body stored before (or earlier in the batch) is a duplicate. */
export async function storeInboundBatch(db: Database, inputs: NewInboundDelivery[]): Promise<StoredDelivery[]> {
  const { rows: inserted } = await db.pool.query<Row>(INSERT_BATCH, [
    inputs.map((i) => i.provider),
    inputs.map((i) => i.digest),
    inputs.map((i) => i.body),
    inputs.map((i) => JSON.stringify(i.headers)),
    inputs.map((i) => i.requestId),
    inputs.map((i) => i.status),
    inputs.map((i) => i.statusReason),
  ]);
  const rows = new Map(inserted.map((r) => [keyOf(r.provider, r.body_digest), r]));
  const fresh = new Set(rows.keys());
  const missing = inputs.filter((i) => !rows.has(keyOf(i.provider, i.digest)));
  if (missing.length > 0) {
    const { rows: existing } = await db.pool.query<Row>(FIND, [missing.map((i) => i.provider), missing.map((i) => i.digest)]);
    for (const r of existing) rows.set(keyOf(r.provider, r.body_digest), r);
  }
  const seen = new Set<string>();
  return inputs.map((input) => {
    const key = keyOf(input.provider, input.digest);
    const row = rows.get(key);
    if (!row) throw new Error("inbound delivery neither inserted nor found");
    const duplicate = !fresh.has(key) || seen.has(key);
    seen.add(key);
    return { id: row.id, status: row.status, statusReason: row.status_reason, duplicate };
  });
}

export interface InboundWriter {
  store(input: NewInboundDelivery): Promise<StoredDelivery>;
}

/**
 * Group commit for the ingress: while one batch is being written, new requests wait for the next one.
 * A batch that fails rejects every request in it (each answers 503; nothing was committed).
 */
export function createInboundWriter(db: Database, maxBatch = 256): InboundWriter {
  let pending: { input: NewInboundDelivery; resolve: (s: StoredDelivery) => void; reject: (e: unknown) => void }[] = [];
  let writing = false;

  async function drain() {
    writing = true;
    while (pending.length > 0) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        const results = await storeInboundBatch(db, batch.map((p) => p.input));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    writing = false;
  }

  return {
    store(input) {
      return new Promise((resolve, reject) => {
        pending.push({ input, resolve, reject });
        if (!writing) {
          writing = true;
          setImmediate(() => void drain());
        }
      });
    },
  };
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
