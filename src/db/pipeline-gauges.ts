// What the alerting rules watch that only the database knows, read at scrape time in one statement: how old
// the oldest waiting Flovi delivery and the oldest unrelayed event (or large fan-out not finished) are, subscriptions by status, paused
// providers, tracked items whose poll is overdue, and the oldest event and inbound delivery kept (retention
// compares them with its horizons). Every column read is indexed.
import type { Database } from "./client.js";
import { onPool } from "./sql.js";

export interface PipelineGauges {
  inboxOldestWaitingSeconds: number;
  outboxOldestUnrelayedSeconds: number;
  subscriptions: { status: string; count: number }[];
  pausedProviders: string[];
  overduePolls: { provider: string; count: number }[];
  oldestEventAgeSeconds: number;
  oldestInboundAgeSeconds: number;
}

const SNAPSHOT = `
SELECT
  COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(received_at) FROM inbound_deliveries WHERE status = 'received')), 0)::float8 AS inbox_age,
  -- An event relayed, but with part of a large fan-out still in the backlog at a destination with room, is not
  -- done either. (A destination without room drains its rows as it takes deliveries: that is its lane's backlog.)
  COALESCE(EXTRACT(EPOCH FROM now() - LEAST((SELECT min(created_at) FROM events WHERE position IS NULL),
     (SELECT min(oldest) FROM hub_backlog_destinations() WHERE hub_destination_waiting(destination_key, $2) < $2))), 0)::float8 AS outbox_age,
  (SELECT COALESCE(json_agg(json_build_object('status', status, 'count', n)), '[]') FROM
     (SELECT CASE WHEN status = 'active' AND paused_until > now() THEN 'paused' ELSE status END AS status, count(*)::int AS n
        FROM subscriptions WHERE deleted_at IS NULL GROUP BY 1) s) AS subscriptions,
  (SELECT COALESCE(json_agg(provider), '[]') FROM provider_states WHERE paused_until > now()) AS paused,
  (SELECT json_build_array(
     json_build_object('provider', 'mfb', 'count', (SELECT count(*)::int FROM mfb_orders WHERE active AND next_poll_at < now() - make_interval(secs => $1))),
     json_build_object('provider', 'greenflow', 'count', (SELECT count(*)::int FROM greenflow_bookings
         WHERE active AND next_poll_at < now() - make_interval(secs => $1))))) AS overdue,
  COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(created_at) FROM events)), 0)::float8 AS event_age,
  COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(received_at) FROM inbound_deliveries)), 0)::float8 AS inbound_age`;

/**
 * `overdueAfterSeconds`: how far past its due time an active item's poll is late (the sweep's lease is 10 min);
 * `backlogRoom`: the fan-out backlog's bound per destination (config/delivery-env.ts backlogRoom).
 */
export async function pipelineGauges(db: Database, overdueAfterSeconds: number, backlogRoom: number): Promise<PipelineGauges> {
  const [row] = await onPool(db).query<{
    inbox_age: number;
    outbox_age: number;
    subscriptions: { status: string; count: number }[];
    paused: string[];
    overdue: { provider: string; count: number }[];
    event_age: number;
    inbound_age: number;
  }>(SNAPSHOT, [overdueAfterSeconds, backlogRoom]);
  return {
    inboxOldestWaitingSeconds: row!.inbox_age,
    outboxOldestUnrelayedSeconds: row!.outbox_age,
    subscriptions: row!.subscriptions,
    pausedProviders: row!.paused,
    overduePolls: row!.overdue,
    oldestEventAgeSeconds: row!.event_age,
    oldestInboundAgeSeconds: row!.inbound_age,
  };
}
