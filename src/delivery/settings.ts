import type { Config } from "../config/env.js";
import type { DeliverySettings } from "./deliver.js";

export function deliverySettings(config: Config): DeliverySettings {
  return {
    timeoutMs: config.DELIVERY_TIMEOUT_MS,
    schedule: config.DELIVERY_RETRY_SCHEDULE,
    disableAfterMs: config.DELIVERY_DISABLE_AFTER_MS,
    disableAfterFailures: config.DELIVERY_DISABLE_AFTER_FAILURES,
    targetPolicy: { enforcePublic: config.NODE_ENV === "production", allowedHosts: config.SUBSCRIPTION_ALLOWED_HOSTS },
  };
}
