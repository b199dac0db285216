import type { Config } from "../config/env.js";
import type { DeliverySettings } from "./decisions.js";
import type { PumpSettings } from "./pump-types.js";
import { type Brokers, createBrokers } from "./brokers/index.js";
import { createDeliveryClient } from "./http-client.js";
import { targetPolicyOf } from "./target-policy.js";

/** The worker's delivery settings; owns connection pools (close `client` and `brokers` at shutdown). */
export function deliverySettings(config: Config, brokers?: Brokers): DeliverySettings {
  const policy = targetPolicyOf(config);
  return {
    timeoutMs: config.DELIVERY_TIMEOUT_MS,
    schedule: config.DELIVERY_RETRY_SCHEDULE,
    disableAfterMs: config.DELIVERY_DISABLE_AFTER_MS,
    disableAfterFailures: config.DELIVERY_DISABLE_AFTER_FAILURES,
    targetPolicy: policy,
    // The pump bounds what is open per destination; the agent must never queue an attempt behind another's.
    client: createDeliveryClient(policy, { maxSockets: Math.max(config.DELIVERY_DESTINATION_MAX_IN_FLIGHT, ...config.DELIVERY_DESTINATION_LIMITS.values()) }),
    brokers: brokers ?? createBrokers(policy),
  };
}

/** The worker's delivery pump: its capacity, poll and circuit (docs/delivery.md). */
export function pumpSettings(config: Config): PumpSettings {
  return {
    capacity: config.DELIVERY_CONCURRENCY,
    destinationLimit: (destination) => config.DELIVERY_DESTINATION_LIMITS.get(destination) ?? config.DELIVERY_DESTINATION_MAX_IN_FLIGHT,
    pollIntervalMs: config.DELIVERY_POLL_INTERVAL_MS,
    circuitAfterFailures: config.DELIVERY_CIRCUIT_AFTER_FAILURES,
    circuitProbeMs: config.DELIVERY_CIRCUIT_PROBE_MS,
    logOutcomes: config.LOG_DELIVERY_OUTCOMES,
  };
}
