-- A delivery's lease is no longer indexed. The drain now writes most deliveries already leased
-- (src/db/fan-out.ts), so this index took an entry for nearly every delivery written, only for the API's and
-- the console's count of a lane's requests in flight; that count now reads the lane's slots
-- (delivery_slots: one row per request it may have open, leased while the request is), at most
-- max_in_flight rows per lane. Every claim reads leases through the due and subject indexes, as before.
DROP INDEX "webhook_deliveries_leased_idx";
