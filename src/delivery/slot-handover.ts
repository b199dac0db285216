// The handover (docs/delivery.md, "A busy lane hands its slots over"): which lanes of a batch of attempts
// being recorded keep the slots the batch frees, leased to their next due deliveries in the record's own
// statement (db/delivery-attempts.ts), and what becomes of those leases. The pump (./pump.ts) lends it its
// books.
import { randomUUID } from "node:crypto";
import type { ClaimedDelivery, ClaimSettings, LaneRow } from "../db/delivery-lanes.js";
import type { ClaimPacing } from "./claim-pacing.js";
import type { Ledger } from "./pump-ledger.js";
import type { SlotHandover } from "./pump-types.js";

export interface SlotHandoverDeps {
  closed(): boolean;
  /** The pump's books: lanes in a destination's line, what is open. */
  ledger: Ledger;
  /** Slow destinations' lanes waiting for their round. */
  pacing: Pick<ClaimPacing, "waiting">;
  /** Requests this process may have open at once. */
  capacity: number;
  /** Lanes asking for a claim. */
  dirty: ReadonlySet<string>;
  /** Lanes whose last claim got all it asked for: more may be waiting. */
  more: ReadonlySet<string>;
  claimSettings(): ClaimSettings;
  /** Starts an attempt (counted as open at once). */
  start(claimed: ClaimedDelivery, lane: LaneRow): void;
}

/**
 * A lane whose attempts all delivered, and that had more waiting, keeps the slots they free. Only while nobody
 * else waits for room: no lane in a destination's line or a slow destination's pacing, and, once this process
 * is full, no other lane asking for any. Whatever is not handed over is freed and claimed for as before.
 */
export function slotHandover(deps: SlotHandoverDeps): SlotHandover {
  return {
    plan(attempts) {
      const { ledger, pacing } = deps;
      if (deps.closed() || ledger.waiting().length > 0 || !pacing.waiting()[Symbol.iterator]().next().done) return undefined;
      const freed = new Map<string, number>();
      const failed = new Set<string>();
      for (const a of attempts) {
        if (a.succeeded) freed.set(a.subscriptionId, (freed.get(a.subscriptionId) ?? 0) + 1);
        else failed.add(a.subscriptionId);
      }
      if (ledger.total >= deps.capacity && [...deps.dirty].some((id) => !freed.has(id))) return undefined;
      const lanes = [...freed].filter(([id]) => deps.more.has(id) && !failed.has(id)).map(([subscriptionId, want]) => ({ subscriptionId, want }));
      return lanes.length > 0 ? { lanes, leaseToken: randomUUID(), settings: deps.claimSettings() } : undefined;
    },
    started(result) {
      const lanes = new Map(result.lanes.map((l) => [l.subscriptionId, l]));
      for (const lane of result.lanes) deps.ledger.learn(lane.subscriptionId, lane.url);
      for (const claimed of result.claimed) deps.start(claimed, lanes.get(claimed.subscriptionId)!);
    },
  };
}
