// What the delivery pump (./pump.ts) is set with and what it offers its callers.
import type { Logger } from "pino";
import type { Handover } from "../db/delivery-attempts.js";
import type { ClaimedDelivery, ClaimResult, LaneRow } from "../db/delivery-lanes.js";
import type { FanOutLease, NewDelivery } from "../db/fan-out.js";
import type { Sql } from "../db/sql.js";
import type { Clock } from "../lib/clock.js";
import type { AttemptDecision } from "./decisions.js";
import type { PumpStore } from "./pump-store.js";

export interface PumpSettings {
  /** A lane whose last N attempts all failed probes its endpoint one request at a time (0: never)... */
  circuitAfterFailures: number;
  /** ...one per this many ms. */
  circuitProbeMs: number;
  /** Requests open at once in this process at most, shared fairly by destination, then by lane. */
  capacity: number;
  /** A destination's (an endpoint origin's) requests open at once in this process at most. */
  destinationLimit: (destination: string) => number;
  /** How often to look for lanes with due work that nobody nudged. */
  pollIntervalMs: number;
  /** One readable info line per attempt (event type, endpoint host, status, latency): LOG_DELIVERY_OUTCOMES. */
  logOutcomes?: boolean;
}

/**
 * A claim made inside a writer's transaction: the leases its fan-out may take as it writes the deliveries,
 * then a claim of the lanes whose new deliveries it did not lease; their attempts start once it committed.
 */
export interface ClaimWithin {
  /** What the fan-out may lease (db/fan-out.ts), held in this process until the claim settles; none when undefined. */
  readonly lease: FanOutLease | undefined;
  /** After the write, in its transaction: claims the lanes of the new deliveries the fan-out did not lease. */
  claim(sql: Sql, deliveries: NewDelivery[]): Promise<void>;
  /** The transaction committed: the attempts start. */
  start(): void;
  /** The transaction rolled back: its leases never existed. */
  abandon(): void;
}

/**
 * The pump's side of a handover (docs/delivery.md, "Handover"): which lanes of a batch of attempts being
 * recorded lease their next due deliveries into the slots the batch frees, in the record's own statement, and
 * what becomes of those leases.
 */
export interface SlotHandover {
  /** Per lane, how many of the slots these attempts free it may keep; undefined when no lane hands over. */
  plan(attempts: readonly { subscriptionId: string; succeeded: boolean }[]): Handover | undefined;
  /** The record committed: what it leased starts, as a claim's leases do. */
  started(result: ClaimResult): void;
}

export interface DeliveryPump {
  /** These lanes have new work: claim for them soon. */
  nudge(subscriptionIds: Iterable<string>): void;
  /**
   * A claim for a writer's transaction that writes `events` events (and their deliveries): the first attempts
   * are leased as they are written or claimed right after, and start at its commit, with no claim of their own.
   */
  claimWithin(events: number): ClaimWithin;
  /** The attempt recorder asks it, for each batch it records, which freed slots change hands at once. */
  readonly handover: SlotHandover;
  /** Claims for every lane with due work now (what the poll does). */
  poll(): Promise<void>;
  /** Resolves when no claim or attempt of this process is under way and every attempt is recorded. */
  idle(): Promise<void>;
  /** Stops claiming; resolves once the attempts under way are recorded. */
  close(): Promise<void>;
}

/** What the pump is built from (the worker's composition root passes it in). */
export interface PumpDeps {
  store: PumpStore;
  log: Logger;
  /** One attempt, sent, decided and recorded (./attempt.ts `runAttempt` in the worker). */
  attempt: (claimed: ClaimedDelivery, lane: LaneRow) => Promise<AttemptDecision>;
  /** Resolves when every attempt this process made is recorded (the attempt recorder's group commit). */
  recorded: () => Promise<void>;
  /** An attempt's timeout: a lease outlives it. */
  attemptTimeoutMs: number;
  settings: PumpSettings;
  /** Time (src/lib/clock.ts): the system's unless a test holds it. */
  clock?: Clock;
}
