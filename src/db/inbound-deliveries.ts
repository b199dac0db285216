// The inbound delivery store, written by the ingress through a group-commit writer: requests that arrive
// together are inserted by one statement (one commit, one round trip), and each request is answered only
// once the statement that holds its row has committed. The worker's side is db/inbox.ts.
import { createHash } from "node:crypto";
import { createGroupWriter, type GroupWriter } from "../lib/group-commit.js";
import type { Database } from "./client.js";
import { poolOf } from "./clients.js";
import { columnsFor, unnestLayout } from "./unnest.js";

type InboundStatus = "received" | "processed" | "ignored" | "rejected" | "failed";

export interface StoredDelivery {
  id: string;
  status: InboundStatus;
  statusReason: string | null;
  duplicate: boolean;
}

interface NewInboundDelivery {
  provider: string;
  digest: string;
  body: Buffer;
  headers: Record<string, string>;
  requestId: string;
  status: InboundStatus;
  statusReason: string | null;
  /** The entity whose deliveries are applied in receipt order (the reservation id); null when never processed. */
  orderingKey: string | null;
  /** Side fields that could not be used as sent; empty when none (stored as NULL). */
  warnings: readonly object[];
  /** The ingress span's W3C trace context, for the drain to continue (null: tracing off). */
  traceContext?: Record<string, string> | null;
}

export function digestBody(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

/** The batch's columns, each one's type and value on one line (src/db/unnest.ts numbers them). */
const COLUMNS = unnestLayout({
  inbound: columnsFor<NewInboundDelivery>({
    provider: ["text", (i) => i.provider],
    digest: ["text", (i) => i.digest],
    body: ["bytea", (i) => i.body],
    headers: ["jsonb", (i) => JSON.stringify(i.headers)],
    request_id: ["text", (i) => i.requestId],
    status: ["text", (i) => i.status],
    reason: ["text", (i) => i.statusReason],
    ordering_key: ["text", (i) => i.orderingKey],
    warnings: ["jsonb", (i) => (i.warnings.length > 0 ? JSON.stringify(i.warnings) : null)],
    trace_context: ["jsonb", (i) => (i.traceContext ? JSON.stringify(i.traceContext) : null)],
  }),
});

const INSERT_BATCH = `
INSERT INTO inbound_deliveries (id, provider, body_digest, raw_body, headers, request_id, status, status_reason, ordering_key, warnings, trace_context)
SELECT gen_random_uuid(), t.provider, t.digest, t.body, t.headers, t.request_id, t.status, t.reason, t.ordering_key, t.warnings, t.trace_context
  FROM ${COLUMNS.unnest("inbound")} WITH ORDINALITY AS t(${COLUMNS.names("inbound")}, ord)
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
async function storeInboundBatch(db: Database, inputs: NewInboundDelivery[]): Promise<StoredDelivery[]> {
  const { rows: inserted } = await poolOf(db).query<Row>(INSERT_BATCH, COLUMNS.values({ inbound: inputs }));
  const rows = new Map(inserted.map((r) => [keyOf(r.provider, r.body_digest), r]));
  const fresh = new Set(rows.keys());
  const missing = inputs.filter((i) => !rows.has(keyOf(i.provider, i.digest)));
  if (missing.length > 0) {
    const { rows: existing } = await poolOf(db).query<Row>(FIND, [missing.map((i) => i.provider), missing.map((i) => i.digest)]);
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

export type InboundWriter = GroupWriter<NewInboundDelivery, StoredDelivery>;

/** Group commit for the ingress: each request is answered once the statement that holds its row has committed. */
export function createInboundWriter(db: Database, maxBatch = 256): InboundWriter {
  return createGroupWriter((inputs) => storeInboundBatch(db, inputs), maxBatch);
}

export interface InboundListItem {
  id: string;
  provider: string;
  status: string;
  statusReason: string | null;
  receivedAt: Date;
  processedAt: Date | null;
  processCount: number;
  bodyDigest: string;
  requestId: string | null;
  bodyBytes: number;
  /** Side fields that could not be used as sent (docs/events.md); null when none. */
  warnings: object[] | null;
}

/** Newest first, with each body's size computed by Postgres (bodies themselves are never loaded here). */
export async function listInbound(db: Database, opts: { status?: string; limit: number; before?: Date }): Promise<InboundListItem[]> {
  const { rows } = await poolOf(db).query<InboundListItem>(
    `SELECT id, provider, status, status_reason AS "statusReason", received_at AS "receivedAt", processed_at AS "processedAt",
            process_count AS "processCount", body_digest AS "bodyDigest", request_id AS "requestId", octet_length(raw_body) AS "bodyBytes",
            warnings
       FROM inbound_deliveries
      WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR received_at < $2)
      ORDER BY received_at DESC
      LIMIT $3`,
    [opts.status ?? null, opts.before?.toISOString() ?? null, opts.limit],
  );
  return rows;
}

/** One stored body (null when the delivery is unknown; `body` null when retention pruned it). */
export async function inboundBody(db: Database, id: string): Promise<{ body: Buffer | null } | null> {
  const { rows } = await poolOf(db).query<{ raw_body: Buffer | null }>("SELECT raw_body FROM inbound_deliveries WHERE id = $1::uuid", [id]);
  return rows[0] ? { body: rows[0].raw_body } : null;
}
