// The Database handle as everything outside src/db sees it: a connection's lifecycle, nothing to query
// with. What it queries with is src/db's alone (./clients.ts).
export interface Database {
  /** Cheap liveness probe with its own deadline. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * Opens `connections` pooled connections, warms each server process's schema caches, and runs a first
   * Prisma query (which loads its query compiler): the first requests after start find them ready.
   */
  warm(connections: number): Promise<void>;
  close(): Promise<void>;
}
