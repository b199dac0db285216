// Shared SQL for the last step of every event write: take positions at the head of the public log and
// fan each event out to the active subscriptions whose event types match. Used inside one statement
// (data-modifying CTEs) by the Flovi inbox and by the outbox relay.

/** SQL twin of domain/events.ts matchesEventType, over subscription `s`. */
export const matchesSubscription = (typeExpr: string) =>
  `EXISTS (SELECT 1 FROM unnest(s.event_types) AS p(pattern)
            WHERE p.pattern = '*' OR p.pattern = ${typeExpr}
               OR (right(p.pattern, 2) = '.*' AND starts_with(${typeExpr}, left(p.pattern, -1))))`;

/** `fan_out` CTE over a CTE `source` with columns (id, type): one pending delivery per matching subscription. */
export const fanOutCte = (source: string) => `
fan_out AS (
  INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, updated_at)
  SELECT gen_random_uuid(), ev.id, s.id, 'pending', now()
    FROM ${source} ev JOIN subscriptions s ON s.status = 'active' AND s.deleted_at IS NULL AND ${matchesSubscription("ev.type")}
  ON CONFLICT (event_id, subscription_id) DO NOTHING
  RETURNING id, event_id, subscription_id
)`;

/** `fanOutCte` followed by the statement's final SELECT: each new delivery with what its first attempt needs. */
export const fanOutFrom = (source: string) => `${fanOutCte(source)}
SELECT f.id AS delivery_id, f.event_id, f.subscription_id, s.url, s.secret, s.previous_secret, s.previous_secret_expires_at
  FROM fan_out f JOIN subscriptions s ON s.id = f.subscription_id`;

export interface FannedOutRow {
  delivery_id: string;
  event_id: string;
  subscription_id: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
}

/** A delivery created by a fan-out, with its target: enough for a first attempt without reading it back. */
export interface NewDelivery {
  webhookDeliveryId: string;
  eventId: string;
  subscriptionId: string;
  target: { url: string; secret: string; previousSecret: string | null; previousSecretExpiresAt: Date | null };
}

export function toNewDelivery(row: FannedOutRow): NewDelivery {
  return {
    webhookDeliveryId: row.delivery_id,
    eventId: row.event_id,
    subscriptionId: row.subscription_id,
    target: { url: row.url, secret: row.secret, previousSecret: row.previous_secret, previousSecretExpiresAt: row.previous_secret_expires_at },
  };
}
