// The only place that builds the Prisma client. The pg pool is shared: Prisma runs on it through the
// driver adapter, and src/db's SQL runs on it directly. The handle it returns is opaque outside src/db: only
// src/db reaches its clients (./clients.ts).
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.js";
import { withTimeout } from "../lib/timeout.js";
import { bindClients } from "./clients.js";
import type { Database } from "./handle.js";

export type { Database } from "./handle.js";

const HOT_TABLES = [
  "inbound_deliveries",
  "reservations",
  "reservation_transitions",
  "events",
  "event_log_head",
  "subscriptions",
  "webhook_deliveries",
  "delivery_attempts",
];
const WARM_SQL = `${HOT_TABLES.map((t) => `SELECT count(*) FROM (SELECT 1 FROM ${t} LIMIT 0) AS w;`).join("\n")}
SELECT count(*) FROM claim_deliveries('{}'::uuid[], '{}'::int[], 0, '00000000-0000-0000-0000-000000000000'::uuid, 0, 0);`;

export function createDatabase(opts: {
  url: string;
  poolSize: number;
  applicationName?: string;
  /** A query still running after this is abandoned (its connection released as broken): operators' reads. */
  queryTimeoutMs?: number;
  /** Hot statements prepared once per connection (./sql.ts); off behind a pooler that does not keep them. */
  preparedStatements?: boolean;
}): Database {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize,
    ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs } : {}),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? "logistics-event-hub",
  });
  // A connection dropped by the server (restart, failover, admin command) emits 'error': on an idle pooled
  // client the pool handles it; on a checked-out client nothing would, and the process would crash. The
  // query that next uses the client fails instead, and its owner releases it as broken.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed: Promise<void> | undefined;
  const db: Database = {
    async ping(timeoutMs = 2_000) {
      const connecting = pool.connect();
      const client = await withTimeout(connecting, timeoutMs, "postgres connect timed out").catch((error: unknown) => {
        connecting.then(
          (late) => late.release(true),
          () => undefined,
        );
        throw error;
      });
      try {
        await withTimeout(client.query("SELECT 1"), timeoutMs, "postgres query timed out");
        client.release();
      } catch (error) {
        client.release(true);
        throw error;
      }
    },
    async warm(connections) {
      const clients = await Promise.all(Array.from({ length: Math.min(connections, opts.poolSize) }, () => pool.connect()));
      try {
        // A new server process knows nothing of the schema yet: planning a statement on each hot table (and
        // its indexes) and compiling the claim function fills its caches now, not on the first real work.
        await Promise.all(clients.map((client) => client.query(WARM_SQL)));
      } finally {
        for (const client of clients) client.release();
      }
      await prisma.subscription.findFirst({ select: { id: true } });
    },
    close() {
      closed ??= (async () => {
        await prisma.$disconnect();
        await pool.end();
      })();
      return closed;
    },
  };
  bindClients(db, { prisma, pool, prepared: opts.preparedStatements ?? true });
  return db;
}
