import { defineConfig } from "vitest/config";

// The fault suite: real api/worker processes and servers it stops on purpose. One scenario at a time.
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // Each scenario is printed as it ends (they take seconds to a minute each), not all at the end.
    reporters: ["verbose"],
  },
});
