import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// The suites that exercise Redis hardest (Flovi ordering, delivery lanes, polling, admin replay), run again on
// another topology: `npm run test:cluster` (3-master Redis Cluster) and `npm run test:sentinel` (primary,
// replica and three sentinels, Postgres through PgBouncer). test/setup/global-setup.ts starts the topology.
export default defineConfig({
  test: {
    ...base.test,
    include: [
      "test/integration/ordering.test.ts",
      "test/integration/flovi-processing.test.ts",
      "test/integration/delivery.test.ts",
      "test/integration/delivery-lanes.test.ts",
      "test/integration/polling.test.ts",
      "test/integration/admin.test.ts",
      "test/integration/admin-cli.test.ts",
    ],
  },
});
