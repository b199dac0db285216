import type { Config } from "../config/env.js";
import type { DeliverySettings } from "./decisions.js";
import { createDeliveryClient } from "./http-client.js";
import type { TargetPolicy } from "./target-policy.js";

export function targetPolicy(config: Config): TargetPolicy {
  return { enforcePublic: config.NODE_ENV === "production", allowedHosts: config.SUBSCRIPTION_ALLOWED_HOSTS };
}

/** The worker's delivery settings; owns a connection pool (close `client` at shutdown). */
export function deliverySettings(config: Config): DeliverySettings {
  const policy = targetPolicy(config);
  return {
    timeoutMs: config.DELIVERY_TIMEOUT_MS,
    schedule: config.DELIVERY_RETRY_SCHEDULE,
    disableAfterMs: config.DELIVERY_DISABLE_AFTER_MS,
    disableAfterFailures: config.DELIVERY_DISABLE_AFTER_FAILURES,
    targetPolicy: policy,
    client: createDeliveryClient(policy),
  };
}
