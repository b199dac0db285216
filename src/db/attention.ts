// What the console's landing page shows first: what needs a look right now, in one statement each.
import type { Database } from "./client.js";
import { onPool } from "./sql.js";

export interface Attention {
  /** Subscriptions that are disabled, paused, failing, retrying deliveries or holding them back. */
  endpoints: {
    id: string;
    url: string;
    status: string;
    reason: string | null;
    failures: number;
    failingSince: Date | null;
    failedLastDay: number;
    /** Pending after at least one failed attempt (counted up to 10,001). */
    retrying: number;
    held: number;
  }[];
  pausedProviders: { provider: string; until: Date; reason: string | null }[];
  lastInbound: { id: string; receivedAt: Date; status: string; reason: string | null; reservationId: string | null }[];
}

export async function attention(db: Database): Promise<Attention> {
  const sql = onPool(db);
  const [endpoints, pausedProviders, lastInbound] = await Promise.all([
    sql.query<Attention["endpoints"][number]>(
      `SELECT s.id, s.url, CASE WHEN s.status = 'active' AND s.paused_until > now() THEN 'paused' ELSE s.status END AS status,
              s.disabled_reason AS reason, s.consecutive_failures AS failures, s.failing_since AS "failingSince",
              (SELECT count(*)::int FROM webhook_deliveries d
                  WHERE d.subscription_id = s.id AND d.status = 'failed' AND d.created_at > now() - interval '24 hours') AS "failedLastDay",
              (SELECT count(*)::int FROM (SELECT 1 FROM webhook_deliveries d
                  WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.attempts > 0 LIMIT 10001) r) AS retrying,
              (SELECT count(*)::int FROM webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'held') AS held
         FROM subscriptions s
        WHERE s.deleted_at IS NULL
          AND (s.status <> 'active' OR s.paused_until > now() OR s.consecutive_failures > 0
               OR EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'held')
               OR EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.attempts > 0)
               OR EXISTS (SELECT 1 FROM webhook_deliveries d
                   WHERE d.subscription_id = s.id AND d.status = 'failed' AND d.created_at > now() - interval '24 hours'))
        ORDER BY s.consecutive_failures DESC, s.created_at
        LIMIT 20`,
    ),
    sql.query<Attention["pausedProviders"][number]>(
      "SELECT provider, paused_until AS until, pause_reason AS reason FROM provider_states WHERE paused_until > now() ORDER BY provider",
    ),
    sql.query<Attention["lastInbound"][number]>(
      `SELECT id, received_at AS "receivedAt", status, status_reason AS reason, ordering_key AS "reservationId"
         FROM inbound_deliveries ORDER BY received_at DESC LIMIT 10`,
    ),
  ]);
  return { endpoints, pausedProviders, lastInbound };
}
