// The Flovi inbox: stored deliveries are applied in receipt order, one reservation at a time, many
// reservations per transaction. Any number of worker processes may drain at once; each reservation is held
// by one of them (advisory lock) while its waiting rows are applied.
//
// A drain pass is one transaction of five statements: BEGIN, claim keys, load rows (with their reservations),
// write everything (reservations, transitions, outcomes, events with positions, fan-out), claim the new
// deliveries for their first attempts (delivery/pump.ts), COMMIT. The attempts start after the commit.
import type { Logger } from "pino";
import type { Database } from "../../db/client.js";
import type { NewDelivery } from "../../db/fan-out.js";
import { claimInboxKeys, loadInbox, markInbound, oldestWaiting, tryLockKeys } from "../../db/inbox.js";
import { writeReportPlan } from "../../db/reservation-writes.js";
import { withTransaction, type Sql } from "../../db/sql.js";
import type { CloudEvent } from "../../domain/events.js";
import { coalesce } from "../../lib/coalesce.js";
import { planInbox, type InboxPlan } from "./plan.js";
import type { InboundOutcome } from "../../domain/reservation-plan.js";
import { traceInboxBatch, type TracedBatch } from "./trace-batch.js";
import { applyStoredDelivery } from "./apply-stored.js";

interface DrainResult {
  applied: number;
  events: number;
  /** Rows set aside as `failed` because they could not be written. */
  failed: number;
}

/** First attempts claimed inside the drain's transaction: started once it commits, dropped if it does not. */
interface ClaimWithin {
  start(): void;
  abandon(): void;
}

export interface Committed {
  events: CloudEvent[];
  deliveries: NewDelivery[];
  /** The deliveries were claimed in the writing transaction (their attempts have started). */
  claimed?: boolean;
}

export interface FloviInboxDeps {
  db: Database;
  log: Logger;
  /** Called after each commit with what it emitted. */
  onCommitted?: (committed: Committed) => void;
  /**
   * Claims the new deliveries' lanes inside the drain's transaction (delivery/pump.ts `claimWithin`), so
   * their first attempts start the moment it commits.
   */
  claimWithin?: (sql: Sql, subscriptionIds: Set<string>) => Promise<ClaimWithin>;
  /** Rows per transaction at most. */
  batchSize?: number;
}

export interface FloviInbox {
  /**
   * Applies everything waiting; concurrent calls share one run (see lib/coalesce.ts). Given the delivery a
   * job is about, returns at once when this process has just applied it (no empty pass per job).
   */
  drain(inboundDeliveryId?: string): Promise<DrainResult>;
  idle(): Promise<void>;
}

const CONTENDED_RETRIES = 25;
const REMEMBERED = 20_000;
const NOTHING: DrainResult = { applied: 0, events: 0, failed: 0 };
const CONTENDED_PAUSE_MS = 2;

interface Pass {
  applied: number;
  contended: number;
  plan?: InboxPlan;
  deliveries: NewDelivery[];
  claim?: ClaimWithin;
}

/** Postgres refused the data (SQLSTATE classes 22, 23, 54): retrying the same rows cannot succeed. */
function isDataError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}

export function createFloviInbox(deps: FloviInboxDeps): FloviInbox {
  const batchSize = deps.batchSize ?? 500;
  // Deliveries this process applied lately (insertion-ordered, oldest dropped first).
  const applied = new Set<string>();
  const remember = (ids: string[]) => {
    for (const id of ids) applied.add(id);
    for (const id of applied) {
      if (applied.size <= REMEMBERED) break;
      applied.delete(id);
    }
  };

  async function pass(keys: string[] | undefined, limit: number): Promise<Pass> {
    let leases: ClaimWithin | undefined;
    let traced: TracedBatch | undefined;
    let outcomes: InboundOutcome[] = [];
    try {
      return await withTransaction(deps.db, async (sql) => {
        const claim = keys ? await tryLockKeys(sql, keys) : await claimInboxKeys(sql, "flovi", limit);
        if (claim.locked.length === 0) return { applied: 0, contended: claim.contended, deliveries: [] };
        const loaded = await loadInbox(sql, claim.locked, limit);
        traced = traceInboxBatch(loaded.rows);
        const plan = planInbox(traced.rows, loaded.reservations);
        const deliveries = plan.inbound.length > 0 ? await writeReportPlan(sql, plan) : [];
        outcomes = plan.inbound;
        const lanes = new Set(deliveries.filter((d) => d.status === "pending").map((d) => d.subscriptionId));
        if (lanes.size > 0 && deps.claimWithin) leases = await deps.claimWithin(sql, lanes);
        return { applied: loaded.rows.length - plan.misfiled.length, contended: claim.contended, plan, deliveries, claim: leases };
      });
    } catch (error) {
      leases?.abandon();
      traced?.end([], error);
      traced = undefined;
      throw error;
    } finally {
      traced?.end(outcomes);
    }
  }

  async function afterCommit(result: Pass) {
    if (result.plan) remember(result.plan.inbound.map((o) => o.id));
    result.claim?.start();
    if (result.plan && (result.plan.events.length > 0 || result.deliveries.length > 0)) {
      deps.onCommitted?.({ events: result.plan.events.map((e) => e.envelope), deliveries: result.deliveries, claimed: result.claim !== undefined });
    }
    // Rows stored before ordering keys existed and filed under another key: applied one by one.
    for (const row of result.plan?.misfiled ?? []) {
      const replayed = await applyStoredDelivery({ db: deps.db }, row.id);
      if (replayed.kind === "applied") deps.onCommitted?.({ events: replayed.events, deliveries: replayed.deliveries });
    }
  }

  /** A batch failed on its data: apply key by key, and within a failing key row by row, setting aside what fails. */
  async function isolate(total: DrainResult) {
    const keys = await withTransaction(deps.db, async (sql) => (await claimInboxKeys(sql, "flovi", batchSize)).locked);
    for (const key of keys) {
      try {
        const result = await pass([key], batchSize);
        await afterCommit(result);
        total.applied += result.applied;
        continue;
      } catch (error) {
        if (!isDataError(error)) throw error;
      }
      for (;;) {
        try {
          const result = await pass([key], 1);
          if (result.applied === 0) break;
          await afterCommit(result);
          total.applied += result.applied;
        } catch (error) {
          if (!isDataError(error)) throw error;
          const id = await withTransaction(deps.db, (sql) => oldestWaiting(sql, key));
          if (!id) break;
          await withTransaction(deps.db, (sql) => markInbound(sql, id, "failed", `could not be applied: ${error.message}`.slice(0, 500)));
          total.failed += 1;
          deps.log.error({ inboundDeliveryId: id, reservationId: key, err: error }, "flovi delivery set aside: it cannot be applied");
        }
      }
    }
  }

  async function drainAll(): Promise<DrainResult> {
    const total: DrainResult = { applied: 0, events: 0, failed: 0 };
    let contendedPasses = 0;
    for (;;) {
      let result: Pass;
      try {
        result = await pass(undefined, batchSize);
      } catch (error) {
        if (!isDataError(error)) throw error;
        await isolate(total);
        continue;
      }
      await afterCommit(result);
      total.applied += result.applied;
      total.events += result.plan?.events.length ?? 0;
      if (result.applied >= batchSize) continue;
      // Another process holds some waiting reservation: it may have loaded before our rows committed, so
      // try again as soon as it is likely done rather than leave them to the sweeper.
      if (result.contended > 0 && contendedPasses < CONTENDED_RETRIES) {
        contendedPasses += 1;
        if (result.applied === 0) await new Promise((r) => setTimeout(r, CONTENDED_PAUSE_MS));
        continue;
      }
      return total;
    }
  }

  const runner = coalesce(drainAll, (a, b) => ({ applied: a.applied + b.applied, events: a.events + b.events, failed: a.failed + b.failed }));
  return {
    async drain(inboundDeliveryId) {
      if (inboundDeliveryId) {
        if (applied.has(inboundDeliveryId)) return NOTHING;
        // The pass under way may have loaded it: wait for that one before asking for another.
        await runner.current()?.catch(() => undefined);
        if (applied.has(inboundDeliveryId)) return NOTHING;
      }
      return runner.run();
    },
    idle: runner.idle,
  };
}
