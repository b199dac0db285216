// What `npm run admin -- tail` streams: inbound deliveries as they are stored and delivery attempts as they
// are recorded, after a cursor of each (the inbound row's seq, the attempt's id: both only grow).
import type { Database } from "./client.js";
import { onPool } from "./sql.js";

export interface TailCursor {
  inbound: string;
  attempt: string;
}

export interface TailInbound {
  kind: "inbound";
  seq: string;
  id: string;
  at: Date;
  status: string;
  reason: string | null;
  reservationId: string | null;
}

export interface TailAttempt {
  kind: "attempt";
  id: string;
  at: Date;
  webhookDeliveryId: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  eventType: string;
  subject: string;
  subscriptionId: string;
  url: string;
}

/** The cursor that starts at "now": only what comes after. */
export async function tailStart(db: Database): Promise<TailCursor> {
  const [row] = await onPool(db).query<{ inbound: string; attempt: string }>(
    "SELECT COALESCE((SELECT max(seq) FROM inbound_deliveries), 0)::text AS inbound, COALESCE((SELECT max(id) FROM delivery_attempts), 0)::text AS attempt",
  );
  return { inbound: row!.inbound, attempt: row!.attempt };
}

/** What came after the cursor (at most `limit` of each), oldest first. */
export async function tailAfter(db: Database, cursor: TailCursor, limit = 500): Promise<{ inbound: TailInbound[]; attempts: TailAttempt[] }> {
  const [inbound, attempts] = await Promise.all([
    onPool(db).query<TailInbound>(
      `SELECT 'inbound' AS kind, seq::text AS seq, id, received_at AS at, status, status_reason AS reason, ordering_key AS "reservationId"
         FROM inbound_deliveries WHERE seq > $1::bigint ORDER BY seq LIMIT $2`,
      [cursor.inbound, limit],
    ),
    onPool(db).query<TailAttempt>(
      `SELECT 'attempt' AS kind, a.id::text AS id, a.attempted_at AS at, a.webhook_delivery_id AS "webhookDeliveryId", a.attempt, a.status_code AS "statusCode",
              a.duration_ms AS "durationMs", a.error, e.type AS "eventType", e.subject, d.subscription_id AS "subscriptionId", s.url
         FROM delivery_attempts a
         JOIN webhook_deliveries d ON d.id = a.webhook_delivery_id
         JOIN events e ON e.id = d.event_id
         JOIN subscriptions s ON s.id = d.subscription_id
        WHERE a.id > $1::bigint ORDER BY a.id LIMIT $2`,
      [cursor.attempt, limit],
    ),
  ]);
  return { inbound, attempts };
}
