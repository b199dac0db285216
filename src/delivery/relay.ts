// The outbox relay, for events written outside the Flovi inbox (pollers, reconciliation, operator events):
// it gives committed events their position in the public log and one delivery row per matching active
// subscription, then tells the delivery pump which lanes have new work. (The inbox positions and fans out its
// own events in its write statement.)
//
// One statement per batch (db/outbox.ts `relayBatch`), under the event_log_head row's lock, which orders every
// position assignment: positions grow in commit order, each entity's events in `sequence` order, and GET
// /events never skips an event that commits late.
// Then the fan-out backlog (db/fan-out-backlog.ts): the deliveries of events matching more subscriptions than
// their writer wrote at once (db/fan-out.ts, INLINE_FAN_OUT), a few events per transaction.
// Dispatch: the writer calls nudge() after its commit (fast path), and a job scheduler runs the relay every
// few seconds (the safety net for a process that died before its nudge).
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { fanOutBacklogBatch } from "../db/fan-out-backlog.js";
import { relayBatch } from "../db/outbox.js";
import { coalesce } from "../lib/coalesce.js";

const BATCH = 500;
/** Events per backlog transaction: each may write hundreds of deliveries. */
const BACKLOG_BATCH = 4;

export interface Relay {
  /** Relays everything pending; resolves with how many events it relayed. */
  run(): Promise<number>;
  /** Run soon; concurrent nudges coalesce into at most one extra run. */
  nudge(): void;
  idle(): Promise<void>;
}

export function createRelay(deps: {
  db: Database;
  log: Logger /** Lanes (subscription ids) with new deliveries. */;
  onDeliveries: (subscriptionIds: Set<string>) => void;
}): Relay {
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
    await writeBacklog();
    return total;
  }

  async function writeBacklog() {
    for (;;) {
      const { events, lanes } = await fanOutBacklogBatch(deps.db, BACKLOG_BATCH);
      if (lanes.size > 0) deps.onDeliveries(lanes);
      if (events < BACKLOG_BATCH) return;
    }
  }

  const runner = coalesce(relayAll, (a, b) => a + b);
  return {
    run: runner.run,
    nudge() {
      runner.run().catch((error: unknown) => deps.log.warn({ err: error }, "outbox relay failed; the scheduled relay will retry"));
    },
    idle: runner.idle,
  };
}
