// Shared polling mechanics: claiming due items, next-poll arithmetic, provider-wide pauses.
import type { Database } from "../db/client.js";

export type PolledTable = "mfb_orders" | "greenflow_bookings";
const KEY: Record<PolledTable, string> = { mfb_orders: "id", greenflow_bookings: "booking_code" };

/**
 * Claims up to `batch` due items and pushes their next_poll_at out by `leaseMs`, in one statement with
 * FOR UPDATE SKIP LOCKED: two sweeps (or two workers) never claim the same item. A poll that finishes
 * sets the real next time; a worker that dies mid-poll only delays the item by the lease.
 */
export async function claimDue(db: Database, table: PolledTable, batch: number, leaseMs: number): Promise<string[]> {
  const key = KEY[table];
  const { rows } = await db.pool.query<{ key: string }>(
    `UPDATE ${table} SET next_poll_at = now() + ($2::int * interval '1 millisecond'), updated_at = now()
      WHERE ${key} IN (
        SELECT ${key} FROM ${table}
         WHERE active AND next_poll_at <= now()
         ORDER BY next_poll_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
      RETURNING ${key}::text AS key`,
    [batch, leaseMs],
  );
  return rows.map((r) => r.key);
}

/** Quiet polls tolerated before the wait starts to grow: an item that moves every few polls keeps its pace. */
export const QUIET_GRACE = 2;

/**
 * When to poll next: the interval (a third of it while the item is moving); after QUIET_GRACE polls in a row
 * that brought nothing new, doubled per further quiet poll, up to `ceilingMs`; doubled per consecutive
 * failure up to 16×; with ±10% jitter so items registered together spread out.
 */
export function nextPollDelayMs(
  intervalMs: number,
  opts: { failures?: number; moving?: boolean; quiet?: number; ceilingMs?: number },
  random = Math.random,
): number {
  const base = opts.moving ? intervalMs / 3 : intervalMs;
  const doublings = Math.min(Math.max(0, (opts.quiet ?? 0) - QUIET_GRACE), 20);
  const patient = opts.ceilingMs === undefined ? base : Math.min(base * 2 ** doublings, Math.max(opts.ceilingMs, base));
  const backoff = 2 ** Math.min(opts.failures ?? 0, 4);
  return Math.round(patient * backoff * (0.9 + 0.2 * random()));
}

export async function providerPausedUntil(db: Database, provider: string): Promise<Date | null> {
  const state = await db.prisma.providerState.findUnique({ where: { provider } });
  return state?.pausedUntil && state.pausedUntil > new Date() ? state.pausedUntil : null;
}

export async function pauseProvider(db: Database, provider: string, untilMs: number, reason: string): Promise<Date> {
  const pausedUntil = new Date(Date.now() + untilMs);
  await db.prisma.providerState.upsert({
    where: { provider },
    create: { provider, pausedUntil, pauseReason: reason },
    update: { pausedUntil, pauseReason: reason },
  });
  return pausedUntil;
}
