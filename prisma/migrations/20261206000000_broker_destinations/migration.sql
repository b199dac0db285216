-- Broker destinations (docs/delivery.md, "Destinations"): a subscription delivers to an HTTP endpoint (its url)
-- or publishes to a broker: RabbitMQ (an exchange and a routing key) or NATS JetStream (a subject). The broker's
-- URL, credentials included, is kept in `url` (a secret: every view masks it); what else it needs is kept in
-- `destination` (null for HTTP). An attempt needs it, so the claim returns it: its result gains a column, which
-- Postgres allows only by dropping the function and creating it again. The body is the one of
-- 20261205000000_replays otherwise.
ALTER TABLE "subscriptions" ADD COLUMN "destination" JSONB;

DROP FUNCTION "claim_deliveries"(UUID[], INTEGER[], DOUBLE PRECISION, UUID, INTEGER, DOUBLE PRECISION, TIMESTAMPTZ);

CREATE FUNCTION "claim_deliveries"(p_ids UUID[], p_wants INTEGER[], p_lease_ms DOUBLE PRECISION, p_token UUID, p_circuit_after INTEGER,
                                   p_probe_ms DOUBLE PRECISION, p_now TIMESTAMPTZ DEFAULT now())
RETURNS TABLE (lane_id UUID, room INTEGER, next_at TIMESTAMPTZ, ordered BOOLEAN, url TEXT, secret TEXT, previous_secret TEXT, previous_secret_expires_at TIMESTAMPTZ, headers JSONB,
               webhook_delivery_id UUID, event_id UUID, attempts INTEGER, schedule_step INTEGER, schedule_started_at TIMESTAMPTZ, slot INTEGER, body TEXT,
               replay_id UUID, destination JSONB)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_lease TIMESTAMPTZ := p_now + make_interval(secs => p_lease_ms / 1000);
  v_now_ms DOUBLE PRECISION := extract(epoch FROM p_now) * 1000;
  -- Due times are stored to the millisecond, rounded: a delivery written as due now() in this very transaction
  -- may read up to half a millisecond later than now(). Compared at the column's precision it is due.
  v_due TIMESTAMPTZ := p_now::timestamptz(3);
  s RECORD;
  v_want INTEGER;
  v_probing BOOLEAN;
  v_max INTEGER;
  v_rate DOUBLE PRECISION;
  v_tat TIMESTAMPTZ;
  v_start_ms DOUBLE PRECISION;
  v_interval DOUBLE PRECISION;
  v_burst DOUBLE PRECISION;
  v_by_rate INTEGER;
  v_ids UUID[];
  v_free INTEGER;
  v_take INTEGER;
  v_picked INTEGER;
  v_slots INTEGER[];
  v_room INTEGER;
  v_got INTEGER;
  v_next TIMESTAMPTZ;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
    v_want := p_wants[i];
    SELECT x.id, x.url, x.secret, x.previous_secret, x.previous_secret_expires_at, x.headers, x.destination, x.ordering = 'subject' AS is_ordered, x.max_in_flight,
           x.rate_limit_per_second, x.consecutive_failures
      INTO s FROM subscriptions x
     WHERE x.id = p_ids[i] AND x.status = 'active' AND x.deleted_at IS NULL AND (x.paused_until IS NULL OR x.paused_until <= p_now);
    CONTINUE WHEN NOT FOUND OR v_want <= 0;

    v_probing := p_circuit_after > 0 AND s.consecutive_failures >= p_circuit_after;
    v_max := CASE WHEN v_probing THEN 1 ELSE s.max_in_flight END;
    v_rate := CASE WHEN v_probing THEN least(coalesce(s.rate_limit_per_second, 1000 / p_probe_ms), 1000 / p_probe_ms) ELSE s.rate_limit_per_second END;
    v_by_rate := v_want;
    v_next := NULL;
    IF v_rate IS NOT NULL THEN
      SELECT x.rate_tat INTO v_tat FROM subscriptions x WHERE x.id = s.id FOR NO KEY UPDATE SKIP LOCKED;
      CONTINUE WHEN NOT FOUND;
      v_start_ms := greatest(coalesce(extract(epoch FROM v_tat) * 1000, 0), v_now_ms);
      v_interval := 1000 / v_rate;
      -- A probe is one request: no burst while the circuit is open.
      v_burst := CASE WHEN v_probing THEN 1 ELSE greatest(1, floor(v_rate)) END;
      v_by_rate := least(v_want, greatest(0, floor((v_now_ms + v_burst * v_interval - v_start_ms) / v_interval + 1e-9))::int);
      IF v_by_rate < v_want THEN
        v_next := CASE WHEN v_by_rate = 0 THEN to_timestamp((v_start_ms - (v_burst - 1) * v_interval) / 1000)
                       ELSE p_now + make_interval(secs => v_interval / 1000) END;
      END IF;
    END IF;

    -- How many slots are free (read, not locked), then the due deliveries (as many as wanted, the rate allows
    -- and slots are free), then only as many slots as they need: a claim locks what it leases, not the lane's
    -- every free slot, nor its backlog while its slots are all taken.
    SELECT count(*)::int INTO v_free FROM delivery_slots ds
     WHERE ds.subscription_id = s.id AND ds.slot < v_max AND (ds.leased_until IS NULL OR ds.leased_until <= p_now);
    v_take := least(v_by_rate, v_free);
    SELECT array_agg(p.id ORDER BY p.next_attempt_at, p.position) INTO v_ids FROM (
      SELECT d.id, d.next_attempt_at, d.position FROM webhook_deliveries d
       WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at <= v_due
         AND (d.leased_until IS NULL OR d.leased_until <= p_now)
         AND (NOT s.is_ordered OR (
               NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                            WHERE o.subscription_id = d.subscription_id AND o.subject = d.subject AND o.status IN ('pending', 'held') AND o.id <> d.id
                              AND (o.position < d.position OR o.leased_until > p_now))
               AND pg_try_advisory_xact_lock(hashtextextended('delivery-subject:' || d.subscription_id::text || ':' || coalesce(d.subject, ''), 0))))
       ORDER BY d.next_attempt_at, d.position
       LIMIT v_take
       -- A row an attempt recorder is writing right now (a lease that ran out) is left for the next claim.
       FOR UPDATE OF d SKIP LOCKED) p;
    v_picked := coalesce(array_length(v_ids, 1), 0);
    v_slots := NULL;
    IF v_picked > 0 THEN
      SELECT array_agg(f.slot ORDER BY f.slot) INTO v_slots FROM (
        SELECT ds.slot FROM delivery_slots ds
         WHERE ds.subscription_id = s.id AND ds.slot < v_max AND (ds.leased_until IS NULL OR ds.leased_until <= p_now)
         ORDER BY ds.slot LIMIT v_picked
         FOR UPDATE SKIP LOCKED) f;
    END IF;
    -- The lane was read before its slots were taken: an attempt's record that freed one of them since may
    -- also have paused the lane (a 429), opened its circuit, or the subscription may have been disabled.
    -- Read again (a fresh snapshot, after the slots are held): a lane that may no longer send leases nothing
    -- now, as when it was paused to begin with.
    IF v_picked > 0 AND NOT EXISTS (
         SELECT 1 FROM subscriptions x
          WHERE x.id = s.id AND x.status = 'active' AND x.deleted_at IS NULL AND (x.paused_until IS NULL OR x.paused_until <= p_now)
            AND (v_probing OR p_circuit_after = 0 OR x.consecutive_failures < p_circuit_after)) THEN
      CONTINUE;
    END IF;
    v_got := least(v_picked, coalesce(array_length(v_slots, 1), 0));
    -- Its room: what it could ask for when fewer were due (nothing more is), else what it got (it took all it
    -- could: what it wanted, what its slots or its rate allowed; more may be waiting).
    v_room := CASE WHEN v_picked < v_take THEN v_by_rate ELSE v_got END;

    -- Took everything due: when its next delivery comes due (a retry, a paced replay), so that the worker asks
    -- again then rather than at its next poll; no sooner than 50 ms from now, so a replay paced at hundreds a
    -- second is claimed in small batches, not one by one.
    IF v_next IS NULL AND v_picked < v_take THEN
      -- (ORDER BY … LIMIT 1: the first entry of the due index; a min() plan may count a lane's every row.)
      SELECT d.next_attempt_at INTO v_next FROM webhook_deliveries d
       WHERE d.subscription_id = s.id AND d.status = 'pending' AND d.next_attempt_at > v_due
       ORDER BY d.subscription_id, d.next_attempt_at LIMIT 1;
      IF v_next IS NOT NULL THEN
        v_next := greatest(v_next, p_now + interval '50 milliseconds');
      END IF;
    END IF;

    RETURN QUERY SELECT s.id, v_room, v_next, s.is_ordered, s.url, s.secret, s.previous_secret, s.previous_secret_expires_at, s.headers,
                        NULL::uuid, NULL::uuid, NULL::int, NULL::int, NULL::timestamptz, NULL::int, NULL::text, NULL::uuid, s.destination;
    CONTINUE WHEN v_got = 0;

    RETURN QUERY
    WITH picked AS (
      SELECT u.id, v_slots[u.k] AS slot FROM unnest(v_ids[1:v_got]) WITH ORDINALITY AS u(id, k)
    ), leased AS (
      UPDATE webhook_deliveries d SET leased_until = v_lease, lease_token = p_token, slot = picked.slot
        FROM picked WHERE d.id = picked.id
      RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.schedule_step, COALESCE(d.schedule_started_at, d.created_at) AS started, d.slot, d.replay_id
    ), taken AS (
      UPDATE delivery_slots ds SET lease_token = p_token, leased_until = v_lease
        FROM leased l WHERE ds.subscription_id = l.subscription_id AND ds.slot = l.slot
    )
    SELECT l.subscription_id, NULL::int, NULL::timestamptz, NULL::boolean, NULL, NULL, NULL, NULL::timestamptz, NULL::jsonb,
           l.id, l.event_id, l.attempts, l.schedule_step, l.started, l.slot, e.envelope::text, l.replay_id, NULL::jsonb
      FROM leased l JOIN events e ON e.id = l.event_id;

    IF v_rate IS NOT NULL AND v_got > 0 THEN
      UPDATE subscriptions x SET rate_tat = to_timestamp((v_start_ms + v_got * v_interval) / 1000) WHERE x.id = s.id;
    END IF;
  END LOOP;
END $$;
