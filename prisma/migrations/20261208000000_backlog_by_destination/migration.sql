-- The fan-out backlog by destination: a large fan-out's deferred deliveries are written as their destination
-- can take them, not all at once (docs/delivery.md, "Large fan-outs").
--
-- A backlog row is now one event's deferred deliveries to one destination: the subscriptions it still owes,
-- listed. The relay writes a destination's rows, oldest first, only while fewer than a bound of deliveries
-- wait there (src/db/fan-out-backlog.ts). A thousand subscriptions at one host that answers in seconds then
-- hold one small row per event instead of a thousand delivery rows, each with its index entries, written
-- five thousand a second and sent thirty a second.

-- A subscription's destination: its URL's scheme and authority (without credentials), and for AMQP its virtual
-- host. Nearly the delivery scheduler's grouping (src/domain/destinations.ts destinationKey), spelled in SQL (a
-- default port written out, as in https://host:443, counts apart here); it groups, it is never shown.
CREATE FUNCTION "hub_destination_key"(p_url TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(substring(p_url FROM '^([A-Za-z][A-Za-z0-9+.-]*:)//')) || '//'
      || lower(regexp_replace(COALESCE(substring(p_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'), ''), '^.*@', ''))
      || CASE WHEN p_url ~* '^amqps?://' THEN '/' || COALESCE(substring(p_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*/([^?#]*)'), '') ELSE '' END
$$;

ALTER TABLE "subscriptions" ADD COLUMN "destination_key" TEXT GENERATED ALWAYS AS (hub_destination_key("url")) STORED;
CREATE INDEX "subscriptions_destination_key_idx" ON "subscriptions"("destination_key");

ALTER TABLE "fan_out_backlog" ADD COLUMN "destination_key" TEXT NOT NULL DEFAULT '';
ALTER TABLE "fan_out_backlog" ADD COLUMN "subscription_ids" UUID[] NOT NULL DEFAULT '{}';
ALTER TABLE "fan_out_backlog" DROP CONSTRAINT "fan_out_backlog_pkey";
DROP INDEX "fan_out_backlog_position_idx";

-- A row written before this migration stands for every subscription the event matched when it was written: it
-- becomes one row per destination, listing them (the deliveries already written are skipped when the rest are).
INSERT INTO "fan_out_backlog" ("event_id", "position", "created_at", "destination_key", "subscription_ids")
SELECT b."event_id", b."position", b."created_at", s."destination_key", array_agg(s."id" ORDER BY s."id")
  FROM "fan_out_backlog" b
  JOIN "events" e ON e."id" = b."event_id"
  JOIN "subscriptions" s ON s."status" = 'active' AND s."deleted_at" IS NULL AND s."created_at" <= e."created_at"
       AND s."event_types" && ARRAY['*', e."type", split_part(e."type", '.', 1) || '.*']
       AND (s."filters" = '[]'::jsonb OR hub_filter_matches(s."filters", e."envelope")) AND s."ordering" <> 'subject'
 WHERE b."destination_key" = ''
 GROUP BY b."event_id", b."position", b."created_at", s."destination_key";
DELETE FROM "fan_out_backlog" WHERE "destination_key" = '';

ALTER TABLE "fan_out_backlog" ALTER COLUMN "destination_key" DROP DEFAULT;
ALTER TABLE "fan_out_backlog" ALTER COLUMN "subscription_ids" DROP DEFAULT;
ALTER TABLE "fan_out_backlog" ADD CONSTRAINT "fan_out_backlog_pkey" PRIMARY KEY ("event_id", "destination_key");
CREATE INDEX "fan_out_backlog_destination_idx" ON "fan_out_backlog"("destination_key", "position");

-- How many deliveries wait at a destination (pending: due, scheduled or in flight), counted up to p_cap: the
-- backlog writes a destination's rows only while this is under p_cap. Active subscriptions by destination, then
-- each one's pending deliveries through the partial index webhook_deliveries_due_idx. A disabled or deleted
-- subscription's deliveries wait for it to be enabled again: they must not hold back the others at its host.
CREATE FUNCTION "hub_destination_waiting"(p_key TEXT, p_cap INT) RETURNS INT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT count(*)::int FROM (
    SELECT 1 FROM subscriptions s JOIN webhook_deliveries w ON w.subscription_id = s.id AND w.status = 'pending'
     WHERE s.destination_key = p_key AND s.status = 'active' AND s.deleted_at IS NULL
     LIMIT p_cap) waiting
$$;

-- The destinations with backlog rows and the oldest row of each: a loose scan of fan_out_backlog_destination_idx,
-- one index probe per destination however many rows wait. The backlog's writer and the stalled-relay gauge
-- (src/db/pipeline-gauges.ts, which counts only destinations with room) read it.
CREATE FUNCTION "hub_backlog_destinations"() RETURNS TABLE ("destination_key" TEXT, "oldest" TIMESTAMPTZ)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH RECURSIVE d AS (
    (SELECT b.destination_key FROM fan_out_backlog b ORDER BY b.destination_key LIMIT 1)
    UNION ALL
    SELECT (SELECT b.destination_key FROM fan_out_backlog b WHERE b.destination_key > d.destination_key ORDER BY b.destination_key LIMIT 1)
      FROM d WHERE d.destination_key IS NOT NULL
  )
  SELECT d.destination_key,
         (SELECT b.created_at FROM fan_out_backlog b WHERE b.destination_key = d.destination_key ORDER BY b.position LIMIT 1)
    FROM d WHERE d.destination_key IS NOT NULL
$$;
