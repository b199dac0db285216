// The delivery pump's (./pump.ts) statements behind a small interface: claim due deliveries of some lanes,
// find the lanes with due work, tell which lanes may send. The unit test gives the pump a fake of it.
import type { Database } from "../db/client.js";
import { activeLanes, type ClaimResult, type ClaimSettings, claimDeliveries, type LaneRequest, lanesWithDueWork } from "../db/delivery-lanes.js";
import { onPool, type Sql } from "../db/sql.js";

/** What the pump needs of the database, and nothing more (`pumpStore(db)` in the worker). */
export interface PumpStore {
  /** Leases the requested lanes' due deliveries: in `sql` (the writer's transaction) when given, else on its own. */
  claim(requests: LaneRequest[], leaseToken: string, settings: ClaimSettings, sql?: Sql): Promise<ClaimResult>;
  /** Lanes (subscription ids) with a delivery due now, leaving out `skip`. */
  lanesWithDueWork(skip: string[]): Promise<string[]>;
  /** Which of these lanes may send now (active, not deleted, not paused), with their URLs (their destinations). */
  activeLanes(subscriptionIds: string[]): Promise<{ subscriptionId: string; url: string }[]>;
}

export function pumpStore(db: Database): PumpStore {
  return {
    claim: (requests, token, settings, sql) => claimDeliveries(sql ?? onPool(db), requests, token, settings),
    lanesWithDueWork: (skip) => lanesWithDueWork(db, skip),
    activeLanes: (ids) => activeLanes(db, ids),
  };
}
