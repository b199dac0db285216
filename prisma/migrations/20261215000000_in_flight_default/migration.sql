-- A subscription's in-flight limit, when it names none, is 256 (DELIVERY_DEFAULT_MAX_IN_FLIGHT's default, the
-- same as a destination's own limit in one worker process), no longer 64. The service always writes the
-- limit itself; the column's default follows, for rows written another way. Existing subscriptions keep theirs.
ALTER TABLE "subscriptions" ALTER COLUMN "max_in_flight" SET DEFAULT 256;
