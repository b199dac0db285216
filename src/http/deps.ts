// What the api's routes are built from (the composition root, app.ts, passes it in).
import type { RedisClient } from "../queues/redis.js";
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import type { Database } from "../db/client.js";
import type { Metrics } from "../observability/metrics.js";
import type { Queues } from "../queues/queues.js";
import type { SubscriptionService } from "../services/wiring.js";

export interface AppDeps {
  config: Config;
  db: Database;
  /**
   * Operators' reads and actions (console, admin API, subscription and tracking views): a pool of their own
   * (DATABASE_OPERATOR_POOL_SIZE, queries abandoned after 15 s), so they never starve the ingress. Defaults to db.
   */
  operatorDb?: Database;
  /** Consumers' reads of the event log (GET /events): a pool of their own (DATABASE_READER_POOL_SIZE). Defaults to db. */
  readerDb?: Database;
  /** Serve POST /webhooks/flovi (default); false in the console role, which answers it 404 saying where to send. */
  ingress?: boolean;
  /** The producer connection (fails fast); also what /readyz pings. */
  redis: RedisClient;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
}

/** What the management routes are built from: the app's dependencies and the services wired once in app.ts. */
export interface RouteDeps extends AppDeps {
  /** On the operators' pool. */
  subscriptionService: SubscriptionService;
}
