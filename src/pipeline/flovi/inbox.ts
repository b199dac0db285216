// The Flovi inbox: stored deliveries are applied in receipt order, one reservation at a time, many
// reservations per transaction. Any number of worker processes may drain at once; each reservation is held
// by one of them (advisory lock) while its waiting rows are applied. A pass is one transaction
// (./inbox-store.ts); the attempts of the deliveries it wrote start after its commit. A batch Postgres
// refuses on its data is applied again key by key, then row by row, and only the rows that cannot be
// written are set aside.
import type { Logger } from "pino";
import type { NewDelivery } from "../../db/fan-out.js";
import type { CloudEvent } from "../../domain/events.js";
import { coalesce } from "../../lib/coalesce.js";
import type { InboxStore, Pass } from "./inbox-store.js";

interface DrainResult {
  applied: number;
  events: number;
  /** Rows set aside as `failed` because they could not be written. */
  failed: number;
}

export interface Committed {
  events: CloudEvent[];
  deliveries: NewDelivery[];
  /** The deliveries were claimed in the writing transaction (their attempts have started). */
  claimed?: boolean;
  /** Events whose other deliveries wait in the fan-out backlog: the relay writes them (db/fan-out.ts). */
  deferred?: number;
}

export interface FloviInboxDeps {
  /** What a pass does to the database (inboxStore(db, pump.claimWithin) in the worker). */
  store: InboxStore;
  log: Logger;
  /** Called after each commit with what it emitted. */
  onCommitted?: (committed: Committed) => void;
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

  const pass = (keys: string[] | undefined, limit: number) => deps.store.pass(keys, limit);

  async function afterCommit(result: Pass) {
    remember(result.outcomeIds);
    result.claim?.start();
    if (result.events.length > 0 || result.deliveries.length > 0) {
      deps.onCommitted?.({ events: result.events, deliveries: result.deliveries, claimed: result.claim !== undefined, deferred: result.deferred });
    }
    // Rows stored before ordering keys existed and filed under another key: applied one by one.
    for (const id of result.misfiled) {
      const replayed = await deps.store.applyOne(id);
      if (replayed.kind === "applied") deps.onCommitted?.({ events: replayed.events, deliveries: replayed.deliveries, deferred: replayed.deferred });
    }
  }

  /** A batch failed on its data: apply key by key, and within a failing key row by row, setting aside what fails. */
  async function isolate(total: DrainResult) {
    const keys = await deps.store.claimKeys(batchSize);
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
          const id = await deps.store.oldestWaiting(key);
          if (!id) break;
          await deps.store.setAside(id, `could not be applied: ${error.message}`.slice(0, 500));
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
      total.events += result.events.length;
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
