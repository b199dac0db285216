// A subscription's delivery limits, in one place: the API's schema (zod), the OpenAPI document, the console's
// form and the worker's default read them; the database's CHECK constraints hold the same numbers (a test
// compares them: test/integration/migrations.test.ts).

/** Requests in flight to one endpoint at most, across every worker process. */
export const MAX_IN_FLIGHT = { min: 1, max: 1000 } as const;

/** Requests per second at most (0.001: one per 1,000 s); no limit is null. */
export const RATE_LIMIT = { min: 0.001, max: 10_000 } as const;
