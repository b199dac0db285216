// The clients behind a Database handle, for src/db only. A `Database` outside src/db is opaque: its type has
// no `prisma` and no `pool`, and this module, the one way to reach them, may be imported by src/db alone
// (.dependency-cruiser.cjs: db-clients-stay-in-db). Tests and benches may use it to arrange and inspect state.
import type pg from "pg";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { Database } from "./handle.js";

export interface Clients {
  prisma: PrismaClient;
  pool: pg.Pool;
  /** Whether hot statements are prepared (./sql.ts); turned off for good if a pooler loses them. */
  prepared: boolean;
}

const clients = new WeakMap<Database, Clients>();

export function bindClients(db: Database, bound: Clients): void {
  clients.set(db, bound);
}

export function clientsOf(db: Database): Clients {
  const bound = clients.get(db);
  if (!bound) throw new Error("not a Database made by createDatabase");
  return bound;
}

/** The Prisma client of a handle (src/db only). */
export function prismaOf(db: Database): PrismaClient {
  return clientsOf(db).prisma;
}

/** The pg pool of a handle (src/db only). */
export function poolOf(db: Database): pg.Pool {
  return clientsOf(db).pool;
}
