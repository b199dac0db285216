// The replay feeder (docs/delivery.md, "Replaying a window"): a replay's deliveries are written a few seconds
// ahead of its pace, a part at a time (db/replays.ts `feedReplay`), not all when it is asked for. Every second
// each worker writes the parts that come due within REPLAY_PARTS.aheadMs, one transaction per part, and tells
// the pump which lane has new work. Replays are shared between workers row by row (SKIP LOCKED); a worker that
// dies between parts leaves the replay where it was for the next one. It needs Postgres only, not Redis.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { feedReplay, REPLAY_PARTS } from "../db/replays.js";
import { withTransaction } from "../db/sql.js";
import { coalesce } from "../lib/coalesce.js";
import { systemClock } from "../lib/clock.js";

/** How often each worker looks for a part to write. */
const FEED_EVERY_MS = 1_000;
/** Parts written in one round at most (a round follows every second): 100,000 deliveries a second. */
const MAX_PARTS_PER_ROUND = 100;

export interface ReplayFeeder {
  /** Writes every part due now; resolves with how many deliveries it wrote. */
  run(): Promise<number>;
  idle(): Promise<void>;
  stop(): void;
}

export function createReplayFeeder(deps: {
  db: Database;
  log: Logger;
  /** Lanes (subscription ids) with new deliveries. */
  onDeliveries: (subscriptionIds: Set<string>) => void;
}): ReplayFeeder {
  async function feedAll(): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_PARTS_PER_ROUND; i++) {
      // The database's clock: the due times it compares with were written by it.
      const part = await withTransaction(deps.db, (sql) => feedReplay(sql, { ...REPLAY_PARTS, now: null }));
      if (!part) break;
      total += part.written;
      if (part.written > 0) deps.onDeliveries(new Set([part.subscriptionId]));
      if (part.finished) deps.log.info({ replayId: part.replayId, subscriptionId: part.subscriptionId }, "replay written whole");
    }
    return total;
  }

  const runner = coalesce(feedAll, (a, b) => a + b);
  const timer = systemClock.interval(() => {
    runner.run().catch((error: unknown) => deps.log.warn({ err: error }, "replay feeder failed; it tries again in a second"));
  }, FEED_EVERY_MS);
  return { run: runner.run, idle: runner.idle, stop: () => timer.cancel() };
}
