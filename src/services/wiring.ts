// The services' inputs that come from the configuration, built once by each composition root (app.ts for the
// routes; the CLI's subscription commands for the CLI) and passed down.
import type { Config } from "../config/env.js";
import type { Database } from "../db/client.js";
import { targetPolicyOf } from "../delivery/target-policy.js";
import type { Logger } from "pino";

/** What the subscription service needs: its database and log, the target policy and the default limits. */
export function subscriptionService(deps: { db: Database; log: Logger }, config: Config) {
  return { ...deps, policy: targetPolicyOf(config), defaults: { maxInFlight: config.DELIVERY_DEFAULT_MAX_IN_FLIGHT } };
}

export type SubscriptionService = ReturnType<typeof subscriptionService>;
