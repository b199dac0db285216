-- The Flovi drain's pass began with three round trips before it could plan anything: BEGIN, the claim of the
-- waiting reservations' locks, and the load of their rows (in a statement of its own, so that its snapshot
-- follows the locks: a previous holder's commit must be seen). At 300 webhooks/s each round trip waited about
-- a millisecond for the worker's busy event loop (docs/performance.md). inbox_take does both in one call:
--   1. the keys of (up to) p_scan oldest waiting rows, each tried once with the reservation's transaction-scoped
--      advisory lock (the lock every writer of a reservation takes); a key another transaction holds is counted
--      as contended; with p_keys, those keys are tried instead;
--   2. in a fresh snapshot (a VOLATILE function takes one per statement), the waiting rows of the keys it
--      locked, in receipt order, at most p_limit, with their reservation's current state.
-- A call that locked nothing returns one row with only `contended` set (0 when nothing was waiting), so that
-- the caller always learns how many keys were held elsewhere. Its parameters are values of the code's own (a
-- provider's name, two limits): the drain sends the call in BEGIN's round trip.
CREATE FUNCTION "inbox_take"(p_provider TEXT, p_scan INTEGER, p_limit INTEGER, p_keys TEXT[] DEFAULT NULL)
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
        FROM inbound_deliveries d
        LEFT JOIN reservations r ON r.id = d.ordering_key
       WHERE d.status = 'received' AND d.ordering_key = ANY(v_locked)
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
