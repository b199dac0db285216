// What the API reads beyond one aggregate's own service: the public event log (with its retention rule) and
// a reservation's view. Routes call these; the statements live in src/db.
import type { Database } from "../db/client.js";
import { eventPage } from "../db/events.js";
import { getReservationView } from "../db/reservations.js";
import { oldestKept, prunedThrough } from "../db/retention.js";
import { floviCosts } from "../providers/flovi/costs.js";

export type EventLogPage =
  | { kind: "page"; data: unknown[]; cursor: string | null; hasMore: boolean }
  /** The cursor is older than the retention horizon: paging on would silently skip pruned events. */
  | { kind: "cursor_expired"; prunedThrough: bigint };

export async function eventLog(db: Database, q: { type?: string; subject?: string; after?: string; limit: number }): Promise<EventLogPage> {
  if (q.after) {
    const horizon = await prunedThrough(db);
    if (BigInt(q.after) < horizon) return { kind: "cursor_expired", prunedThrough: horizon };
  }
  const rows = await eventPage(db, { type: q.type, subject: q.subject, after: q.after ? BigInt(q.after) : undefined }, q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1)?.position;
  return { kind: "page", data: page.map((r) => r.envelope), cursor: last !== undefined ? last.toString() : (q.after ?? null), hasMore: rows.length > q.limit };
}

/** A reservation's view: its final costs as money (as events carry them), the fields as Flovi sent them beside. */
export async function reservationView(db: Database, id: string) {
  const view = await getReservationView(db, id);
  if (!view) return null;
  const raw = view.finalCosts as Record<string, unknown> | null;
  return { ...view, finalCosts: raw ? floviCosts(raw) : null, finalCostsAsSent: raw };
}

export async function retentionOverview(db: Database) {
  return { eventsPrunedThrough: (await prunedThrough(db)).toString(), ...(await oldestKept(db)) };
}
