// The delivery settings of the environment (docs/delivery.md, docs/configuration.md): ./env.ts spreads them
// into its one schema.
import { z } from "zod";
import { destinationLimits, durationList, durationMs, HOUR, MINUTE, positiveInt, SECOND } from "./env-parsers.js";
import { MAX_IN_FLIGHT } from "../domain/subscription-limits.js";

/** The most steps DELIVERY_RETRY_SCHEDULE may have. */
const MAX_DELIVERY_STEPS = 20;
/** A destination's requests open at once in one process, and a new subscription's in-flight limit: the same by default. */
const DESTINATION_LIMIT = 256;

export const deliveryEnv = {
  DELIVERY_TIMEOUT_MS: durationMs(10 * SECOND),
  /** At most MAX_DELIVERY_STEPS steps. */
  DELIVERY_RETRY_SCHEDULE: durationList
    .default([0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR])
    .refine((steps) => steps.length <= MAX_DELIVERY_STEPS, `at most ${MAX_DELIVERY_STEPS} steps`),
  /** An endpoint failing without a single success for this long is disabled. */
  DELIVERY_DISABLE_AFTER_MS: durationMs(5 * 24 * HOUR),
  /** ...or after this many consecutive failed attempts (0 turns the count rule off). */
  DELIVERY_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(0).default(0),
  /**
   * A new subscription's in-flight limit when its body names none (docs/delivery.md, "Limits"): a destination's
   * own limit in one process, so that a busy subscription is not held back by the hub's own queueing.
   */
  DELIVERY_DEFAULT_MAX_IN_FLIGHT: z.coerce.number().int().min(MAX_IN_FLIGHT.min).max(MAX_IN_FLIGHT.max).default(DESTINATION_LIMIT),
  /**
   * Requests open at once in one worker process at most, shared fairly by destination, then by subscription.
   * A slow answer holds a socket and some memory, nothing scarcer: the bound is memory and file descriptors.
   */
  DELIVERY_CONCURRENCY: positiveInt(2048),
  /** A destination's (an endpoint origin's) requests open at once in one worker process at most... */
  DELIVERY_DESTINATION_MAX_IN_FLIGHT: positiveInt(DESTINATION_LIMIT),
  /** ...unless named here: `origin=limit,…` (a gateway that fronts many teams). */
  DELIVERY_DESTINATION_LIMITS: destinationLimits,
  /** How often each worker looks for deliveries that came due (retries, other processes' work, expired leases). */
  DELIVERY_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(500),
  /** After this many consecutive failed attempts a subscription is probed one request at a time (0: never). */
  DELIVERY_CIRCUIT_AFTER_FAILURES: z.coerce.number().int().min(0).default(5),
  /** While probing, one attempt per this long. */
  DELIVERY_CIRCUIT_PROBE_MS: durationMs(SECOND),
  /**
   * A replay's deliveries come due this many per second, in log order (docs/delivery.md, "Replaying a window"),
   * so that replaying a day of events does not take the worker from everyone else's live traffic.
   */
  REPLAY_RATE_PER_SECOND: z.coerce.number().min(1).max(100_000).default(100),
};

/**
 * How many deliveries may wait at one destination (due, scheduled or in flight) before the fan-out backlog
 * writes no more there (docs/delivery.md, "How it works"): eight times the most one worker process may have
 * in flight at any destination, so that a destination at its limit always has its next deliveries written,
 * with several workers sending to it too.
 */
export function backlogRoom(config: { DELIVERY_DESTINATION_MAX_IN_FLIGHT: number; DELIVERY_DESTINATION_LIMITS: Map<string, number> }): number {
  return 8 * Math.max(config.DELIVERY_DESTINATION_MAX_IN_FLIGHT, ...config.DELIVERY_DESTINATION_LIMITS.values());
}
