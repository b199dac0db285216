-- inbox_take's load read the waiting rows by their receipt order (the inbox's partial index on seq) and
-- filtered them by the locked keys: the generic plan, which the drain's transaction asks for, does not know
-- how many keys the array holds. With many rows waiting (a backlog) and few of them the locked keys', that
-- walks the whole backlog. Now each locked key's rows are read by the index on (ordering_key, seq) of waiting
-- rows, whatever the plan's mode (test/integration/inbox-take.test.ts reads the plan); the rest is unchanged.
CREATE OR REPLACE FUNCTION "inbox_take"(p_provider TEXT, p_scan INTEGER, p_limit INTEGER, p_keys TEXT[] DEFAULT NULL)
RETURNS TABLE (id UUID, raw_body BYTEA, received_at TIMESTAMPTZ, request_id TEXT, ordering_key TEXT, trace_context JSONB,
               r_id TEXT, r_state TEXT, r_external_id TEXT, r_sequence INTEGER, r_cancellation_reason TEXT, r_last_changed_at TIMESTAMPTZ,
               r_details JSONB, contended INTEGER)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_locked TEXT[];
  v_contended INTEGER;
BEGIN
  IF p_keys IS NULL THEN
    SELECT coalesce(array_agg(w.key) FILTER (WHERE w.locked), '{}'), count(*) FILTER (WHERE NOT w.locked)
      INTO v_locked, v_contended
      FROM (SELECT k.key, pg_try_advisory_xact_lock(hashtextextended('reservation:' || k.key, 0)) AS locked
              FROM (SELECT DISTINCT o.ordering_key AS key
                      FROM (SELECT d.ordering_key FROM inbound_deliveries d
                             WHERE d.status = 'received' AND d.provider = p_provider AND d.ordering_key IS NOT NULL
                             ORDER BY d.seq LIMIT p_scan) o) k) w;
  ELSE
    SELECT coalesce(array_agg(w.key) FILTER (WHERE w.locked), '{}'), count(*) FILTER (WHERE NOT w.locked)
      INTO v_locked, v_contended
      FROM (SELECT k AS key, pg_try_advisory_xact_lock(hashtextextended('reservation:' || k, 0)) AS locked
              FROM unnest(p_keys) AS k) w;
  END IF;
  IF cardinality(v_locked) > 0 THEN
    RETURN QUERY
      SELECT d.id, d.raw_body, d.received_at, d.request_id, d.ordering_key, d.trace_context,
             r.id, r.state, r.external_id, r.sequence, r.cancellation_reason, r.last_changed_at, r.details, v_contended
        FROM unnest(v_locked) AS k(key)
        CROSS JOIN LATERAL (SELECT w.* FROM inbound_deliveries w
                             WHERE w.status = 'received' AND w.ordering_key = k.key
                             ORDER BY w.seq LIMIT p_limit) d
        LEFT JOIN reservations r ON r.id = d.ordering_key
       ORDER BY d.seq
       LIMIT p_limit;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  RETURN QUERY SELECT NULL::UUID, NULL::BYTEA, NULL::TIMESTAMPTZ, NULL::TEXT, NULL::TEXT, NULL::JSONB, NULL::TEXT, NULL::TEXT, NULL::TEXT,
                      NULL::INTEGER, NULL::TEXT, NULL::TIMESTAMPTZ, NULL::JSONB, v_contended;
END;
$$;
