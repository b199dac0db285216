-- Side fields of a Flovi delivery that could not be used as sent (a time without offset, an empty externalId,
-- an unknown cancellation reason, ...): the state is applied with a fallback, and each oddity is kept here
-- ([{ field, problem, fallback, raw }]) for the console and the API. NULL when there was none.
ALTER TABLE "inbound_deliveries" ADD COLUMN "warnings" JSONB;
