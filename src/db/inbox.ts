// The worker's side of inbound_deliveries: the inbox of `received` rows, taken in receipt order (`seq`) one
// ordering key (reservation) at a time. A key is held with a transaction-scoped advisory lock, the same
// lock every other writer of that reservation takes, so two drains never apply one reservation at once.
import type { InboxRow, ReservationSnapshot } from "../domain/reservation-plan.js";
import type { Sql } from "./sql.js";

const lockExpr = (key: string) => `pg_try_advisory_xact_lock(hashtextextended('reservation:' || ${key}, 0))`;

// The keys of the oldest waiting rows, each tried once. A key some other transaction holds comes back
// `false`: its holder is applying it right now.
const CLAIM_KEYS = `
SELECT w.key, ${lockExpr("w.key")} AS locked
  FROM (SELECT DISTINCT ordering_key AS key
          FROM (SELECT ordering_key FROM inbound_deliveries
                 WHERE status = 'received' AND provider = $1 AND ordering_key IS NOT NULL
                 ORDER BY seq LIMIT $2) oldest) w`;

// Runs after the locks are held, so its snapshot sees everything the previous holders committed.
const LOAD = `
SELECT d.id, d.raw_body, d.received_at, d.request_id, d.ordering_key, d.trace_context,
       r.id AS r_id, r.state AS r_state, r.external_id AS r_external_id, r.sequence AS r_sequence,
       r.cancellation_reason AS r_cancellation_reason, r.last_changed_at AS r_last_changed_at, r.details AS r_details
  FROM inbound_deliveries d
  LEFT JOIN reservations r ON r.id = d.ordering_key
 WHERE d.status = 'received' AND d.ordering_key = ANY($1::text[])
 ORDER BY d.seq
 LIMIT $2`;

interface LoadRow {
  id: string;
  raw_body: Buffer;
  received_at: Date;
  request_id: string | null;
  ordering_key: string;
  trace_context: Record<string, string> | null;
  r_id: string | null;
  r_state: string;
  r_external_id: string | null;
  r_sequence: number;
  r_cancellation_reason: string | null;
  r_last_changed_at: Date;
  r_details: Record<string, unknown> | null;
}

export interface KeyClaim {
  locked: string[];
  /** Keys that were waiting but held by another transaction. */
  contended: number;
}

function toClaim(rows: { key: string; locked: boolean }[]): KeyClaim {
  return { locked: rows.filter((r) => r.locked).map((r) => r.key), contended: rows.filter((r) => !r.locked).length };
}

/** Locks the keys of (up to) the `scan` oldest waiting rows that no other transaction holds. */
export async function claimInboxKeys(sql: Sql, provider: string, scan: number): Promise<KeyClaim> {
  return toClaim(await sql.query(CLAIM_KEYS, [provider, scan]));
}

/** Waiting rows of locked keys, in receipt order, with their reservations' current state. */
export interface LoadedInbox {
  rows: InboxRow[];
  reservations: ReservationSnapshot[];
}

/** What `inbox_take` found: the rows of the keys it locked, and how many waiting keys another transaction held. */
export interface TakenInbox extends LoadedInbox {
  contended: number;
}

const wholeNumber = (n: number) => {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`not a positive whole number: ${n}`);
  return n;
};

/**
 * The statement that takes the oldest waiting reservations of a provider and loads their rows in one call
 * (`inbox_take`, prisma/migrations/20261211000000_inbox_take): text with no parameters, to be sent in the
 * transaction's first round trip (sql.ts `withHotTransaction`). Its values are the code's own, checked here.
 */
export function takeInboxStatement(provider: "flovi", scan: number, limit: number): string {
  return `SELECT * FROM inbox_take('${provider}', ${wholeNumber(scan)}, ${wholeNumber(limit)})`;
}

/** Tries the named keys only, and loads the rows of those it locked (`inbox_take` with keys). */
export async function takeInboxKeys(sql: Sql, provider: string, keys: string[], limit: number): Promise<TakenInbox> {
  return toTaken(await sql.query<TakenRow>("SELECT * FROM inbox_take($1, $2, $2, $3)", [provider, limit, keys]));
}

export type TakenRow = { [K in keyof LoadRow]: LoadRow[K] | null } & { contended: number };

/** `inbox_take`'s rows; a row without an id only says how many keys were contended. */
export function toTaken(rows: TakenRow[]): TakenInbox {
  const loaded = rows.filter((row): row is LoadRow & { contended: number } => row.id !== null);
  return { ...toLoaded(loaded), contended: rows[0]?.contended ?? 0 };
}

/** The waiting rows of locked keys in receipt order, with their reservations' current state. */
export async function loadInbox(sql: Sql, keys: string[], limit: number): Promise<LoadedInbox> {
  return toLoaded(await sql.query<LoadRow>(LOAD, [keys, limit]));
}

function toLoaded(loaded: LoadRow[]): LoadedInbox {
  const reservations = new Map<string, ReservationSnapshot>();
  for (const row of loaded) {
    if (row.r_id && !reservations.has(row.r_id)) {
      reservations.set(row.r_id, {
        id: row.r_id,
        state: row.r_state,
        externalId: row.r_external_id,
        sequence: row.r_sequence,
        cancellationReason: row.r_cancellation_reason,
        lastChangedAt: row.r_last_changed_at,
        details: row.r_details,
      });
    }
  }
  return {
    rows: loaded.map((row) => ({
      id: row.id,
      rawBody: row.raw_body,
      receivedAt: row.received_at,
      requestId: row.request_id,
      orderingKey: row.ordering_key,
      traceContext: row.trace_context,
    })),
    reservations: [...reservations.values()],
  };
}

export interface StoredInboundRow extends InboxRow {
  status: string;
}

/** One stored delivery; with `forUpdate`, locked for the rest of the transaction. */
export async function loadInbound(sql: Sql, id: string, forUpdate = false): Promise<StoredInboundRow | null> {
  const [row] = await sql.query<{
    id: string;
    status: string;
    raw_body: Buffer;
    received_at: Date;
    request_id: string | null;
    ordering_key: string | null;
    trace_context: Record<string, string> | null;
  }>(
    `SELECT id, status, raw_body, received_at, request_id, ordering_key, trace_context FROM inbound_deliveries WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  if (!row) return null;
  return {
    id: row.id,
    status: row.status,
    rawBody: row.raw_body,
    receivedAt: row.received_at,
    requestId: row.request_id,
    orderingKey: row.ordering_key ?? "",
    traceContext: row.trace_context,
  };
}

export async function markInbound(sql: Sql, id: string, status: string, reason: string): Promise<void> {
  await sql.query("UPDATE inbound_deliveries SET status = $2, status_reason = $3, processed_at = now(), process_count = process_count + 1 WHERE id = $1", [
    id,
    status,
    reason,
  ]);
}

/** The oldest waiting row of a key (to isolate one that cannot be applied). */
export async function oldestWaiting(sql: Sql, key: string): Promise<string | null> {
  const [row] = await sql.query<{ id: string }>("SELECT id FROM inbound_deliveries WHERE status = 'received' AND ordering_key = $1 ORDER BY seq LIMIT 1", [
    key,
  ]);
  return row?.id ?? null;
}

/** Which of these keys still have deliveries waiting in the inbox (a backfill leaves them to the drain). */
export async function keysWithWaitingDeliveries(sql: Sql, provider: string, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await sql.query<{ ordering_key: string }>(
    "SELECT DISTINCT ordering_key FROM inbound_deliveries WHERE status = 'received' AND provider = $1 AND ordering_key = ANY($2::text[])",
    [provider, keys],
  );
  return new Set(rows.map((r) => r.ordering_key));
}
