// What the Flovi inbox's drain (./inbox.ts) does to the database, behind a small interface: one pass is one
// transaction of three round trips: BEGIN with the take (db/inbox.ts: lock the oldest waiting reservations,
// load their rows and their reservations), the write (reservations, transitions, outcomes, events with
// positions, fan-out, the leases of first attempts; a claim of the new deliveries' other lanes after it, when
// there are any), COMMIT. A unit test gives the drain a fake of it; the worker `inboxStore(db, …)`.
import type { Database } from "../../db/client.js";
import type { NewDelivery } from "../../db/fan-out.js";
import { claimInboxKeys, markInbound, oldestWaiting, takeInboxKeys, takeInboxStatement, type TakenRow, toTaken } from "../../db/inbox.js";
import { writeReportPlan } from "../../db/reservation-writes.js";
import { withHotTransaction, withTransaction } from "../../db/sql.js";
import type { CloudEvent } from "../../domain/events.js";
import type { InboundOutcome } from "../../domain/reservation-plan.js";
import { type ApplyResult, applyStoredDelivery } from "./apply-stored.js";
import type { ClaimWithin } from "../../delivery/pump-types.js";
import { planInbox } from "./plan.js";
import { type TracedBatch, traceInboxBatch } from "./trace-batch.js";

/** One committed pass. */
export interface Pass {
  /** Rows applied (with any outcome: applied, stale, repeated, rejected…). */
  applied: number;
  /** Waiting reservations another process held. */
  contended: number;
  /** The inbound deliveries this pass gave an outcome. */
  outcomeIds: string[];
  events: CloudEvent[];
  deliveries: NewDelivery[];
  /** Events that left deliveries to the fan-out backlog (the relay writes them); absent: none. */
  deferred?: number;
  /** Rows filed under another key (stored before ordering keys existed): to be applied one by one. */
  misfiled: string[];
  /** Their first attempts, claimed in the pass's transaction: start them now that it committed. */
  claim?: ClaimWithin;
}

export interface InboxStore {
  /** One transaction: claim waiting reservations (or lock the given ones), apply up to `limit` rows in order. Rolls back on any error. */
  pass(keys: string[] | undefined, limit: number): Promise<Pass>;
  /** Waiting reservations this process may take now (their keys). */
  claimKeys(limit: number): Promise<string[]>;
  /** The reservation's oldest waiting delivery. */
  oldestWaiting(key: string): Promise<string | null>;
  /** Sets a delivery aside as failed, with the reason. */
  setAside(inboundDeliveryId: string, reason: string): Promise<void>;
  /** Applies one stored delivery on its own. */
  applyOne(inboundDeliveryId: string): Promise<ApplyResult>;
}

export function inboxStore(
  db: Database,
  /** Leases and claims the new deliveries inside the pass's transaction (delivery/pump.ts `claimWithin`). */
  claimWithin?: (events: number) => ClaimWithin,
): InboxStore {
  return {
    async pass(keys, limit) {
      let leases: ClaimWithin | undefined;
      let traced: TracedBatch | undefined;
      let outcomes: InboundOutcome[] = [];
      try {
        // The oldest waiting reservations, taken and loaded in BEGIN's round trip; named keys (a batch applied
        // key by key) in a statement of their own.
        const first = keys ? null : takeInboxStatement("flovi", limit, limit);
        return await withHotTransaction(db, first, async (sql, rows: TakenRow[]): Promise<Pass> => {
          const loaded = keys ? await takeInboxKeys(sql, "flovi", keys, limit) : toTaken(rows);
          if (loaded.rows.length === 0) return { applied: 0, contended: loaded.contended, outcomeIds: [], events: [], deliveries: [], misfiled: [] };
          traced = traceInboxBatch(loaded.rows);
          const plan = planInbox(traced.rows, loaded.reservations);
          const within = claimWithin?.(plan.events.length);
          leases = within;
          const { deliveries, deferred } =
            plan.inbound.length > 0 ? await traced.within(() => writeReportPlan(sql, plan, within?.lease)) : { deliveries: [], deferred: 0 };
          outcomes = plan.inbound;
          await within?.claim(sql, deliveries);
          return {
            applied: loaded.rows.length - plan.misfiled.length,
            contended: loaded.contended,
            outcomeIds: plan.inbound.map((o) => o.id),
            events: plan.events.map((e) => e.envelope),
            deliveries,
            deferred,
            misfiled: plan.misfiled.map((r) => r.id),
            claim: leases,
          };
        });
      } catch (error) {
        leases?.abandon();
        traced?.end([], error);
        traced = undefined;
        throw error;
      } finally {
        traced?.end(outcomes);
      }
    },
    claimKeys: (limit) => withTransaction(db, async (sql) => (await claimInboxKeys(sql, "flovi", limit)).locked),
    oldestWaiting: (key) => withTransaction(db, (sql) => oldestWaiting(sql, key)),
    setAside: (id, reason) => withTransaction(db, (sql) => markInbound(sql, id, "failed", reason)),
    applyOne: (id) => applyStoredDelivery({ db }, id),
  };
}
