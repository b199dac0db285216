-- Subscription filters (docs/delivery.md, "Filters"), in the dialects of the CloudEvents Subscriptions API:
-- `exact`, `prefix` and `suffix` on one attribute of the event (a context attribute such as `type`, `subject`
-- or `source`, or a path into its data such as `data.details.carrier`), and `all`, `any` and `not` over other
-- filters. A subscription's `filters` is an array; all of them must match. They are evaluated where the event
-- is fanned out (src/db/fan-out.ts), so an event that does not match costs no delivery row. An empty array (the
-- default) takes every event of the subscription's types, without calling the functions below.
ALTER TABLE "subscriptions" ADD COLUMN "filters" JSONB NOT NULL DEFAULT '[]';

-- One attribute of an event envelope as text; null when the event has none.
CREATE FUNCTION "hub_event_attribute"(p_event JSONB, p_attribute TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN starts_with(p_attribute, 'data.') THEN p_event #>> string_to_array(p_attribute, '.')
              ELSE p_event ->> p_attribute END
$$;

-- Whether the event matches a filter, or every filter of an array. Filters are validated when they are set
-- (src/domain/filters.ts): each object has exactly one dialect, and `exact`, `prefix` and `suffix` exactly one
-- attribute.
CREATE FUNCTION "hub_filter_matches"(p_filter JSONB, p_event JSONB) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_dialect TEXT;
  v_arg JSONB;
  v_attribute TEXT;
  v_want TEXT;
  v_value TEXT;
  v_each JSONB;
BEGIN
  IF jsonb_typeof(p_filter) = 'array' THEN
    FOR v_each IN SELECT value FROM jsonb_array_elements(p_filter) LOOP
      IF NOT hub_filter_matches(v_each, p_event) THEN
        RETURN false;
      END IF;
    END LOOP;
    RETURN true;
  END IF;
  SELECT key, value INTO v_dialect, v_arg FROM jsonb_each(p_filter) LIMIT 1;
  IF v_dialect = 'all' THEN
    RETURN hub_filter_matches(v_arg, p_event);
  ELSIF v_dialect = 'any' THEN
    FOR v_each IN SELECT value FROM jsonb_array_elements(v_arg) LOOP
      IF hub_filter_matches(v_each, p_event) THEN
        RETURN true;
      END IF;
    END LOOP;
    RETURN false;
  ELSIF v_dialect = 'not' THEN
    RETURN NOT hub_filter_matches(v_arg, p_event);
  END IF;
  SELECT key, value #>> '{}' INTO v_attribute, v_want FROM jsonb_each(v_arg) LIMIT 1;
  v_value := hub_event_attribute(p_event, v_attribute);
  -- An attribute the event does not have matches nothing (and so `not` of it matches).
  IF v_value IS NULL THEN
    RETURN false;
  END IF;
  RETURN CASE v_dialect
           WHEN 'exact' THEN v_value = v_want
           WHEN 'prefix' THEN starts_with(v_value, v_want)
           WHEN 'suffix' THEN right(v_value, length(v_want)) = v_want
           ELSE false
         END;
END $$;
