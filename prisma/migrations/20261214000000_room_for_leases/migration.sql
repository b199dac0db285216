-- Room on each page of webhook_deliveries for its rows' next versions. A delivery's row is written three times:
-- inserted by the fan-out (pending), updated by the claim that leases it (lease columns only), updated by the
-- record of its attempt (its new status). The lease changes no indexed column, so Postgres can write the new
-- version on the same page without touching any index (a HOT update), but only where the page has room. The
-- fan-out fills each page to the brim, so most leases found none: the new version went to another page and a
-- new entry into each of the table's indexes (seven for a pending delivery), and the claim competed with the
-- fan-out's own inserts for new pages. Pages now keep 30 % of their space for updates: at saturation a lease of
-- 22 deliveries took 0.75 ms instead of 1.8-3.0 ms (docs/performance.md, "Room for leases").
-- Pages written from now on keep the room; existing ones get it as they are vacuumed and reused.
ALTER TABLE "webhook_deliveries" SET (fillfactor = 70);
