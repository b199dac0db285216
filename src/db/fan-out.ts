// Shared SQL for the last step of every event write: take positions at the head of the public log and
// fan each event out to the active subscriptions whose event types match. Used inside one statement
// (data-modifying CTEs) by the Flovi inbox and by the outbox relay.

/**
 * Whether subscription `s` takes an event of type `typeExpr`: `reservation.sealed` matches `*`,
 * `reservation.*` and `reservation.sealed` (the one definition; test/integration/fan-out-sql.test.ts).
 */
export const matchesSubscription = (typeExpr: string) =>
  `EXISTS (SELECT 1 FROM unnest(s.event_types) AS p(pattern)
            WHERE p.pattern = '*' OR p.pattern = ${typeExpr}
               OR (right(p.pattern, 2) = '.*' AND starts_with(${typeExpr}, left(p.pattern, -1))))`;

/**
 * `fan_out` CTE over a CTE `source` with columns (id, type, subject, position): one delivery per matching
 * subscription, due now. For a subscription in ordered mode (docs/delivery.md) a delivery is `held` when its
 * subject already has an unfinished delivery to that subscription, or an earlier event in the same batch:
 * it is released (db/delivery-attempts.ts) when the one before it is delivered or has finally failed. Only
 * an ordered subscription's deliveries carry their subject (which keeps the subject index to them alone).
 */
export const fanOutCte = (source: string) => `
fan_out AS (
  INSERT INTO webhook_deliveries (id, event_id, subscription_id, status, subject, position, next_attempt_at, schedule_started_at, updated_at)
  SELECT gen_random_uuid(), m.id, m.subscription_id,
         CASE WHEN m.ordering = 'subject' AND (m.nth > 1 OR EXISTS (
                SELECT 1 FROM webhook_deliveries u
                 WHERE u.subscription_id = m.subscription_id AND u.subject = m.subject AND u.status IN ('pending', 'held')))
              THEN 'held' ELSE 'pending' END,
         CASE WHEN m.ordering = 'subject' THEN m.subject END, m.position, now(), now(), now()
    FROM (SELECT ev.id, ev.subject, ev.position, s.id AS subscription_id, s.ordering,
                 row_number() OVER (PARTITION BY s.id, ev.subject ORDER BY ev.position) AS nth
            FROM ${source} ev JOIN subscriptions s ON s.status = 'active' AND s.deleted_at IS NULL AND ${matchesSubscription("ev.type")}) m
  ON CONFLICT (event_id, subscription_id) DO NOTHING
  RETURNING id, event_id, subscription_id, status
)`;

/** `fanOutCte` followed by the statement's final SELECT: each new delivery, for the worker to claim at once. */
export const fanOutFrom = (source: string) => `${fanOutCte(source)}
SELECT f.id AS delivery_id, f.event_id, f.subscription_id, f.status FROM fan_out f`;

export interface FannedOutRow {
  delivery_id: string;
  event_id: string;
  subscription_id: string;
  status: "pending" | "held";
}

/** A delivery created by a fan-out: its lane (subscription) is told, and claims it (delivery/pump.ts). */
export interface NewDelivery {
  webhookDeliveryId: string;
  eventId: string;
  subscriptionId: string;
  status: "pending" | "held";
}

export function toNewDelivery(row: FannedOutRow): NewDelivery {
  return { webhookDeliveryId: row.delivery_id, eventId: row.event_id, subscriptionId: row.subscription_id, status: row.status };
}
