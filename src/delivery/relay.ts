// The outbox relay, for events written outside the Flovi inbox (pollers, reconciliation, operator events):
// it gives committed events their position in the public log and one delivery row per matching active
// subscription, then tells the delivery pump which lanes have new work. (The inbox positions and fans out its
// own events in its write statement.)
//
// One statement per batch (db/outbox.ts `relayBatch`), under the event_log_head row's lock, which orders every
// position assignment: positions grow in commit order, each entity's events in `sequence` order, and GET
// /events never skips an event that commits late.
// Then the fan-out backlog (db/fan-out-backlog.ts): the deliveries of events matching more subscriptions than
// their writer wrote at once (db/fan-out.ts, INLINE_FAN_OUT), a few events per destination and transaction,
// each destination only while fewer than `backlogRoom` deliveries wait there. While a destination has rows
// but no room, the relay looks again every BACKLOG_RECHECK_MS (it drains without new events to nudge it), and
// only then: the runs in between (one per webhook that left markers) do not count its waiting deliveries again.
// A destination that drains its room (eight times its in-flight bound) within BACKLOG_RECHECK_MS waits for the
// re-check: the backlog then writes its deliveries at up to backlogRoom per BACKLOG_RECHECK_MS.
// Dispatch: the writer calls nudge() after its commit (fast path), and a job scheduler runs the relay every
// few seconds (the safety net for a process that died before its nudge). The Flovi inbox, which positions its
// own events, calls nudgeBacklog() instead when it left markers: only the backlog runs, and the log head's
// lock (and a flushed commit) is not taken for a batch that would find nothing to position.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { fanOutBacklogBatch, MARKERS_PER_BATCH } from "../db/fan-out-backlog.js";
import { relayBatch } from "../db/outbox.js";
import { type Clock, systemClock, type Timer } from "../lib/clock.js";
import { coalesce } from "../lib/coalesce.js";

const BATCH = 500;
/** Backlog rows per destination and transaction: each may write hundreds of deliveries. */
const BACKLOG_BATCH = 4;
/** How soon the relay looks again at a destination whose backlog waits for room. */
const BACKLOG_RECHECK_MS = 500;

export interface Relay {
  /** Relays everything pending; resolves with how many events it relayed. */
  run(): Promise<number>;
  /** Run soon; concurrent nudges coalesce into at most one extra run. */
  nudge(): void;
  /** Write the fan-out backlog soon (for a writer that positioned its own events and left markers). */
  nudgeBacklog(): void;
  idle(): Promise<void>;
  /** No more backlog re-checks (shutdown). */
  stop(): void;
}

export function createRelay(deps: {
  db: Database;
  log: Logger;
  /** Lanes (subscription ids) with new deliveries. */
  onDeliveries: (subscriptionIds: Set<string>) => void;
  /** A destination's backlog is written only while fewer deliveries than this wait there. */
  backlogRoom: number;
  /** The re-check's timer (tests hold it). */
  clock?: Clock;
}): Relay {
  const clock = deps.clock ?? systemClock;
  let recheck: Timer | undefined;
  let stopped = false;
  /** Destinations found without room since the last re-check: not counted again until it. */
  const full = new Set<string>();

  async function relayAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { relayed, pending, deliveries } = await relayBatch(deps.db, BATCH);
      total += relayed;
      // Were this process to die now, the deliveries are due rows: any worker's poll claims them.
      if (deliveries.length > 0) deps.onDeliveries(new Set(deliveries.map((d) => d.subscriptionId)));
      // A full batch may have more behind it; one whose events all waited for an earlier one is done for now.
      if (pending < BATCH || relayed === 0) break;
    }
    await backlog.run();
    return total;
  }

  async function writeBacklog(): Promise<void> {
    for (;;) {
      const { markers, rows, lanes, paced } = await fanOutBacklogBatch(deps.db, BACKLOG_BATCH, deps.backlogRoom, [...full]);
      if (lanes.size > 0) deps.onDeliveries(lanes);
      for (const key of paced) full.add(key);
      // The batch wrote what it matched from markers where there was room; a full batch of markers may have more behind it.
      if (rows > 0 || markers >= MARKERS_PER_BATCH) continue;
      if (full.size > 0 && !stopped && !recheck) {
        recheck = clock.timeout(() => {
          recheck = undefined;
          full.clear();
          runBacklog();
        }, BACKLOG_RECHECK_MS);
      }
      return;
    }
  }

  // The backlog alone (a re-check) does not take the log head's lock, as a relay batch does.
  const backlog = coalesce(writeBacklog, () => undefined);
  const runBacklog = () => {
    backlog.run().catch((error: unknown) => deps.log.warn({ err: error }, "fan-out backlog failed; the scheduled relay will retry"));
  };
  const runner = coalesce(relayAll, (a, b) => a + b);
  return {
    run: runner.run,
    nudge() {
      runner.run().catch((error: unknown) => deps.log.warn({ err: error }, "outbox relay failed; the scheduled relay will retry"));
    },
    nudgeBacklog: runBacklog,
    async idle() {
      await runner.idle();
      await backlog.idle();
    },
    stop() {
      stopped = true;
      recheck?.cancel();
    },
  };
}
