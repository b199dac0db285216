-- Plans that hold whatever Postgres's statistics say. Right after many subscriptions are created (1,000 at one
-- host), Postgres still counts the few it analysed last, until autovacuum analyses the tables again (a minute
-- or more). Three statements then chose plans that read every row once per subscription
-- (docs/performance.md, "Plans made on old statistics"):
--   - hub_destination_waiting walked every pending delivery once per subscription at the destination (a nested
--     loop joined on a filter): 99 ms a call beside the crowd, 475 ms in a test with 1,000 subscriptions;
--   - claim_deliveries counted each lane's free slots with a sequential scan of all lanes' slots (3-5 ms a
--     lane, 100-180 ms for a claim of 32 lanes), and read the lanes it was asked for by walking every
--     subscription once per lane.
-- Now each reads a subscription's rows by its key, in a lateral look-up or an index order with a LIMIT, so
-- the plan is the same whatever the row counts: the waiting count probes each subscription's pending
-- deliveries (up to the cap), and the claim counts a lane's free slots up to what it wants (which is all
-- it used of the count) in the slots' key order. Results are unchanged.

-- How many deliveries wait at a destination, counted up to p_cap (as in 20261208000000_backlog_by_destination).
CREATE OR REPLACE FUNCTION "hub_destination_waiting"(p_key TEXT, p_cap INT) RETURNS INT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT count(*)::int FROM (
    SELECT 1 FROM subscriptions s CROSS JOIN LATERAL (
      SELECT 1 FROM webhook_deliveries w WHERE w.subscription_id = s.id AND w.status = 'pending' LIMIT p_cap) w
     WHERE s.destination_key = p_key AND s.status = 'active' AND s.deleted_at IS NULL
     LIMIT p_cap) waiting
$$;

-- The body of 20261210000000_claim_by_set, with the two statements above read by key.
CREATE OR REPLACE FUNCTION "claim_deliveries"(p_ids UUID[], p_wants INTEGER[], p_lease_ms DOUBLE PRECISION, p_token UUID, p_circuit_after INTEGER,
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
  -- The lanes served together: id, wanted, deliveries they could take (wanted and free), taken, leased.
  v_lanes UUID[];
  v_wanted INTEGER[];
  v_could INTEGER[];
  v_picked_n INTEGER[];
  v_got_n INTEGER[];
  -- What they took: one entry per delivery, with its lane and its slot.
  v_pick_lanes UUID[];
  v_pick_ids UUID[];
  v_pick_slots INTEGER[];
  -- Lanes that took something and may still send.
  v_sending UUID[];
  -- The lanes served one at a time below: those that take turns, or a lane asked for alone.
  v_one_by_one UUID[];
  v_one_by_one_wants INTEGER[];
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
  -- One lane alone is served one by one too: its few small statements cost less than the set's large one.
  IF cardinality(p_ids) = 1 THEN
    v_one_by_one := p_ids;
    v_one_by_one_wants := p_wants;
  ELSE
    -- 1 and 2: the lanes asked for that may send now; those that need no turn take their deliveries and slots.
    WITH asked AS (
      SELECT DISTINCT ON (u.id) u.id, u.want, u.k FROM unnest(p_ids, p_wants) WITH ORDINALITY AS u(id, want, k)
       WHERE u.want > 0 ORDER BY u.id, u.k
    ), lanes AS (
      SELECT a.id, a.want, a.k, x.ordering = 'subject' AS is_ordered, x.max_in_flight,
             x.rate_limit_per_second IS NOT NULL OR (p_circuit_after > 0 AND x.consecutive_failures >= p_circuit_after) AS takes_turns
        -- (x.id = ANY: by its key, whatever the plan thinks of the table's size.)
        FROM asked a JOIN subscriptions x ON x.id = a.id AND x.id = ANY (p_ids)
       WHERE x.status = 'active' AND x.deleted_at IS NULL AND (x.paused_until IS NULL OR x.paused_until <= p_now)
    ), free AS MATERIALIZED (
      -- (Counted up to what the lane wants, in the key's order: a walk of its slots by the key, whatever the plan
      -- thinks of their number.)
      SELECT l.*, (SELECT count(*) FROM (
                     SELECT 1 FROM delivery_slots ds
                      WHERE ds.subscription_id = l.id AND ds.slot < l.max_in_flight AND (ds.leased_until IS NULL OR ds.leased_until <= p_now)
                      ORDER BY ds.slot LIMIT l.want) f)::int AS could
        FROM lanes l WHERE NOT l.takes_turns
    ), picked AS (
      SELECT f.*, p.ids FROM free f CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(q.id ORDER BY q.next_attempt_at, q.position), '{}') AS ids FROM (
          SELECT d.id, d.next_attempt_at, d.position FROM webhook_deliveries d
           WHERE d.subscription_id = f.id AND d.status = 'pending' AND d.next_attempt_at <= v_due
             AND (d.leased_until IS NULL OR d.leased_until <= p_now)
             AND (NOT f.is_ordered OR (
                   NOT EXISTS (SELECT 1 FROM webhook_deliveries o
                                WHERE o.subscription_id = d.subscription_id AND o.subject = d.subject AND o.status IN ('pending', 'held') AND o.id <> d.id
                                  AND (o.position < d.position OR o.leased_until > p_now))
                   AND pg_try_advisory_xact_lock(hashtextextended('delivery-subject:' || d.subscription_id::text || ':' || coalesce(d.subject, ''), 0))))
           ORDER BY d.next_attempt_at, d.position
           LIMIT f.could
           -- A row an attempt recorder is writing right now (a lease that ran out) is left for the next claim.
           FOR UPDATE OF d SKIP LOCKED) q) p
    ), slotted AS MATERIALIZED (
      SELECT p.*, z.slots FROM picked p CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(f.slot ORDER BY f.slot), '{}') AS slots FROM (
          SELECT ds.slot FROM delivery_slots ds
           WHERE ds.subscription_id = p.id AND ds.slot < p.max_in_flight AND (ds.leased_until IS NULL OR ds.leased_until <= p_now)
           ORDER BY ds.slot LIMIT cardinality(p.ids)
           FOR UPDATE SKIP LOCKED) f) z
    )
    SELECT turns.ids, turns.wants, served.ids, served.wanted, served.could, served.picked, served.got, taken.lanes, taken.ids, taken.slots
      FROM (SELECT array_agg(l.id ORDER BY l.k) AS ids, array_agg(l.want ORDER BY l.k) AS wants FROM lanes l WHERE l.takes_turns) turns,
           (SELECT array_agg(t.id ORDER BY t.k) AS ids, array_agg(t.want ORDER BY t.k) AS wanted, array_agg(t.could ORDER BY t.k) AS could,
                   array_agg(cardinality(t.ids) ORDER BY t.k) AS picked, array_agg(least(cardinality(t.ids), cardinality(t.slots)) ORDER BY t.k) AS got
              FROM slotted t) served,
           (SELECT array_agg(t.id ORDER BY t.k, u.n) AS lanes, array_agg(u.id ORDER BY t.k, u.n) AS ids, array_agg(u.slot ORDER BY t.k, u.n) AS slots
              FROM slotted t, unnest(t.ids, t.slots) WITH ORDINALITY AS u(id, slot, n) WHERE u.id IS NOT NULL AND u.slot IS NOT NULL) taken
      INTO v_one_by_one, v_one_by_one_wants, v_lanes, v_wanted, v_could, v_picked_n, v_got_n, v_pick_lanes, v_pick_ids, v_pick_slots;
  END IF;

  -- 3. Read again the lanes that took something (a fresh snapshot, after their slots are held).
  IF v_lanes IS NOT NULL THEN
    SELECT array_agg(x.id) INTO v_sending FROM unnest(v_lanes, v_picked_n) AS l(id, picked) JOIN subscriptions x ON x.id = l.id AND x.id = ANY (v_lanes)
     WHERE l.picked > 0 AND x.status = 'active' AND x.deleted_at IS NULL AND (x.paused_until IS NULL OR x.paused_until <= p_now)
       AND (p_circuit_after = 0 OR x.consecutive_failures < p_circuit_after);
  END IF;

  -- 4. Each lane: its room (what it could ask for when fewer were due than it could take, else what it got)
  -- and, when it took everything due, when its next delivery comes due (at least 50 ms on: a replay paced at
  -- hundreds a second is claimed in small batches). Then the leases.
  IF v_lanes IS NOT NULL THEN
    RETURN QUERY
    SELECT x.id, CASE WHEN l.picked < l.could THEN l.wanted ELSE l.got END, n.at, x.ordering = 'subject', x.url, x.secret, x.previous_secret,
           x.previous_secret_expires_at, x.headers, NULL::uuid, NULL::uuid, NULL::int, NULL::int, NULL::timestamptz, NULL::int, NULL::text, NULL::uuid, x.destination
      FROM unnest(v_lanes, v_wanted, v_could, v_picked_n, v_got_n) AS l(id, wanted, could, picked, got)
      -- (x.id = ANY: by its key, whatever the plan thinks of the arrays' length.)
      JOIN subscriptions x ON x.id = l.id AND x.id = ANY (v_lanes)
      LEFT JOIN LATERAL (
        -- (ORDER BY … LIMIT 1: the first entry of the due index; a min() plan may count a lane's every row.)
        SELECT greatest(d.next_attempt_at, p_now + interval '50 milliseconds') AS at FROM webhook_deliveries d
         WHERE l.picked < l.could AND d.subscription_id = l.id AND d.status = 'pending' AND d.next_attempt_at > v_due
         ORDER BY d.subscription_id, d.next_attempt_at LIMIT 1) n ON true
     WHERE l.picked = 0 OR l.id = ANY (coalesce(v_sending, '{}'));

    IF v_sending IS NOT NULL THEN
      RETURN QUERY
      WITH taken AS (
        SELECT u.lane, u.id, u.slot FROM unnest(v_pick_lanes, v_pick_ids, v_pick_slots) AS u(lane, id, slot) WHERE u.lane = ANY (v_sending)
      ), leased AS (
        UPDATE webhook_deliveries d SET leased_until = v_lease, lease_token = p_token, slot = t.slot
          FROM taken t WHERE d.id = t.id
        RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.schedule_step, COALESCE(d.schedule_started_at, d.created_at) AS started, d.slot, d.replay_id
      ), slots AS (
        UPDATE delivery_slots ds SET lease_token = p_token, leased_until = v_lease
          FROM leased l WHERE ds.subscription_id = l.subscription_id AND ds.slot = l.slot
      )
      SELECT l.subscription_id, NULL::int, NULL::timestamptz, NULL::boolean, NULL, NULL, NULL, NULL::timestamptz, NULL::jsonb,
             l.id, l.event_id, l.attempts, l.schedule_step, l.started, l.slot, (SELECT e.envelope::text FROM events e WHERE e.id = l.event_id), l.replay_id, NULL::jsonb
        FROM leased l;
    END IF;
  END IF;

  -- The lanes that take turns (and a lane asked for alone): one at a time, each on its limiter's state.
  FOR i IN 1 .. coalesce(array_length(v_one_by_one, 1), 0) LOOP
    v_want := v_one_by_one_wants[i];
    SELECT x.id, x.url, x.secret, x.previous_secret, x.previous_secret_expires_at, x.headers, x.destination, x.ordering = 'subject' AS is_ordered, x.max_in_flight,
           x.rate_limit_per_second, x.consecutive_failures
      INTO s FROM subscriptions x
     WHERE x.id = v_one_by_one[i] AND x.status = 'active' AND x.deleted_at IS NULL AND (x.paused_until IS NULL OR x.paused_until <= p_now);
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

    -- How many slots are free (read, not locked; counted up to what the rate allows), then the due deliveries (as many as wanted, the rate allows
    -- and slots are free), then only as many slots as they need: a claim locks what it leases, not the lane's
    -- every free slot, nor its backlog while its slots are all taken.
    SELECT count(*)::int INTO v_free FROM (
      SELECT 1 FROM delivery_slots ds
       WHERE ds.subscription_id = s.id AND ds.slot < v_max AND (ds.leased_until IS NULL OR ds.leased_until <= p_now)
       ORDER BY ds.slot LIMIT v_by_rate) f;
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
    -- Read again once the slots are held (as in 3. above).
    IF v_picked > 0 AND NOT EXISTS (
         SELECT 1 FROM subscriptions x
          WHERE x.id = s.id AND x.status = 'active' AND x.deleted_at IS NULL AND (x.paused_until IS NULL OR x.paused_until <= p_now)
            AND (v_probing OR p_circuit_after = 0 OR x.consecutive_failures < p_circuit_after)) THEN
      CONTINUE;
    END IF;
    v_got := least(v_picked, coalesce(array_length(v_slots, 1), 0));
    v_room := CASE WHEN v_picked < v_take THEN v_by_rate ELSE v_got END;

    IF v_next IS NULL AND v_picked < v_take THEN
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
           l.id, l.event_id, l.attempts, l.schedule_step, l.started, l.slot, (SELECT e.envelope::text FROM events e WHERE e.id = l.event_id), l.replay_id, NULL::jsonb
      FROM leased l;

    IF v_rate IS NOT NULL AND v_got > 0 THEN
      UPDATE subscriptions x SET rate_tat = to_timestamp((v_start_ms + v_got * v_interval) / 1000) WHERE x.id = s.id;
    END IF;
  END LOOP;
END $$;
