// A lane's waiting deliveries when its mode changes: ordered mode entered (they take their subjects) or left
// (what it held is released), the subscription deleted (cancelled), and ordered mode's safety net.
import type { Database } from "./client.js";
import { onPool, type Sql } from "./sql.js";

/**
 * Ordered mode's safety net: a held delivery whose subject has no earlier unfinished delivery is due now. The
 * attempt recorder releases the next delivery as it records the one before; this catches the rare fan-out
 * that raced with that release (and anything held when a subscription left ordered mode).
 */
export async function releaseHeadsOfSubjects(db: Database): Promise<number> {
  const rows = await onPool(db).query(
    `UPDATE webhook_deliveries h SET status = 'pending', next_attempt_at = now(), schedule_started_at = now(), updated_at = now()
      WHERE h.status = 'held'
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                         WHERE o.subscription_id = h.subscription_id AND o.subject = h.subject AND o.status IN ('pending', 'held')
                           AND o.position < h.position)
      RETURNING h.id`,
  );
  return rows.length;
}

/**
 * A subscription entered ordered mode: its waiting deliveries take their subjects, so that from now on a
 * subject's deliveries go out one at a time, in log order, those already waiting included.
 */
export async function orderWaiting(sql: Sql, subscriptionId: string): Promise<void> {
  await sql.query(
    `UPDATE webhook_deliveries d SET subject = e.subject, updated_at = now()
       FROM events e WHERE d.subscription_id = $1 AND d.status = 'pending' AND e.id = d.event_id`,
    [subscriptionId],
  );
}

/** A subscription left ordered mode: what it held waits no more (in the caller's transaction). */
export async function releaseAllHeld(sql: Sql, subscriptionId: string): Promise<void> {
  await sql.query(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), schedule_started_at = now(), updated_at = now()
        WHERE subscription_id = $1 AND status = 'held'`,
    [subscriptionId],
  );
}

/** A deleted subscription's waiting deliveries will never be sent: cancelled (in the caller's transaction). */
export async function cancelWaiting(sql: Sql, subscriptionId: string): Promise<void> {
  await sql.query(
    `UPDATE webhook_deliveries SET status = 'cancelled', last_error = 'subscription deleted', completed_at = now(), updated_at = now()
        WHERE subscription_id = $1 AND status IN ('pending', 'held')`,
    [subscriptionId],
  );
}
