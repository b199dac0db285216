-- A subscription's destination in SQL is the delivery scheduler's (src/domain/destinations.ts destinationKey):
-- a default port written out no longer counts apart. Before, `https://host:443` and `https://host` were two
-- destinations for the fan-out backlog, each with its own room of waiting deliveries (docs/delivery.md,
-- "Large fan-outs"), while the scheduler counted them as one.
--
-- HTTP: the origin, the port left out when it is the scheme's default (80, 443). A broker: its scheme, host and
-- port, the default written in (AMQP 5672, AMQPS 5671, NATS 4222), and for AMQP its virtual host as written
-- (`%2F` when the URL names none). Credentials are never part of it; it groups and is never shown. Never raises:
-- a port is compared as text, so a URL Postgres could not cast still gets a key.
CREATE OR REPLACE FUNCTION "hub_destination_key"(p_url TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN scheme IN ('http', 'https') THEN
             scheme || '://' || host || CASE WHEN port IS NULL OR port = default_port THEN '' ELSE ':' || port END
           WHEN scheme IN ('amqp', 'amqps') THEN
             scheme || '://' || host || ':' || COALESCE(port, default_port) || '/' || COALESCE(NULLIF(vhost, ''), '%2F')
           WHEN scheme IN ('nats', 'tls') THEN
             scheme || '://' || host || ':' || COALESCE(port, default_port)
           ELSE scheme || '://' || authority
         END
    FROM (SELECT scheme, authority, vhost,
                 substring(authority FROM '^(\[[^]]*\]|[^:]*)') AS host,
                 -- the port without leading zeros, as the URL parser reads it; NULL when none is written
                 CASE WHEN authority ~ '^(\[[^]]*\]|[^:]*):[0-9]+$'
                      THEN COALESCE(NULLIF(ltrim(substring(authority FROM ':([0-9]+)$'), '0'), ''), '0') END AS port,
                 CASE scheme WHEN 'http' THEN '80' WHEN 'https' THEN '443' WHEN 'amqp' THEN '5672' WHEN 'amqps' THEN '5671'
                             WHEN 'nats' THEN '4222' WHEN 'tls' THEN '4222' END AS default_port
            FROM (SELECT lower(substring(p_url FROM '^([A-Za-z][A-Za-z0-9+.-]*)://')) AS scheme,
                         lower(regexp_replace(COALESCE(substring(p_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'), ''), '^.*@', '')) AS authority,
                         COALESCE(substring(p_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*/([^?#]*)'), '') AS vhost) url) parts
$$;

-- The stored column is computed again for the subscriptions whose key changed. Backlog rows already written
-- under an old key keep it: no subscription has that key any more, so nothing waits there and the relay writes
-- them out at its next run.
UPDATE "subscriptions" SET "url" = "url" WHERE "destination_key" IS DISTINCT FROM hub_destination_key("url");

-- The filter's attribute reader, unused since 20261207010000_filter_function read attributes inline.
DROP FUNCTION IF EXISTS "hub_event_attribute"(JSONB, TEXT);
