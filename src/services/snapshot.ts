// A snapshot to start from (GET /snapshot/reservations|shipments|rentals): every entity not yet final, each as
// the `data` its latest event carries, paged by key, and one log position fixed before the first page was read.
// The contract (docs/events.md, "Starting from a snapshot"): apply the pages, then read GET /events?after=
// <position> and apply only the events whose `sequence` is above the one held. Nothing is missed: an event at or
// below the position committed with its entity's state before any page was read; anything later is in the log
// after the position, whatever page its entity was read on.
import { z } from "zod";
import type { Database } from "../db/client.js";
import { logHead, type SnapshotEntity, type SnapshotRow, snapshotPage } from "../db/snapshot.js";
import { eventData } from "../domain/events.js";

export const SNAPSHOT_KINDS = { reservations: "reservation", shipments: "shipment", rentals: "rental" } as const satisfies Record<string, SnapshotEntity>;
export type SnapshotKind = keyof typeof SNAPSHOT_KINDS;

/** What a cursor carries: the paging session's position, whether final entities are in, the last key read. */
const cursorState = z.object({
  kind: z.enum(Object.keys(SNAPSHOT_KINDS) as [SnapshotKind]),
  position: z.string().regex(/^\d{1,18}$/),
  all: z.boolean(),
  // A key as the tables hold them: a shipment's is a uuid; none holds a NUL.
  after: z
    .string()
    .max(300)
    .regex(/^[^\0]*$/),
});
type CursorState = z.infer<typeof cursorState>;

const encode = (state: CursorState) => Buffer.from(JSON.stringify(state)).toString("base64url");

function decode(cursor: string): CursorState | null {
  try {
    const parsed = cursorState.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export const snapshotQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(500),
  cursor: z.string().max(2000).optional(),
  all: z.enum(["true", "false"]).optional(),
});

export type SnapshotPage =
  /** `items`: each entity's JSON text, in key order; `next`: the next page's cursor, null on the last page. */
  | { kind: "page"; position: string; items: string[]; next: string | null }
  /** The cursor is not one this endpoint returned for this kind (or `all` differs from the first page's). */
  | { kind: "bad_cursor"; reason: string };

export async function snapshot(db: Database, kind: SnapshotKind, q: z.output<typeof snapshotQuery>): Promise<SnapshotPage> {
  const all = q.all === "true";
  let state: CursorState;
  if (q.cursor) {
    const decoded = decode(q.cursor);
    if (!decoded) return { kind: "bad_cursor", reason: "not a cursor this endpoint returned" };
    if (decoded.kind !== kind) return { kind: "bad_cursor", reason: `a cursor of /snapshot/${decoded.kind}, not of /snapshot/${kind}` };
    if (decoded.kind === "shipments" && decoded.after !== "" && !z.uuid().safeParse(decoded.after).success)
      return { kind: "bad_cursor", reason: "not a cursor this endpoint returned" };
    if (q.all !== undefined && decoded.all !== all)
      return { kind: "bad_cursor", reason: `the cursor pages all=${decoded.all}; leave all out or send it as on the first page` };
    state = decoded;
  } else {
    // Taken before the first page is read: every event at or below it is already reflected in what the pages show.
    state = { kind, position: (await logHead(db)).toString(), all, after: "" };
  }
  const entity = SNAPSHOT_KINDS[kind];
  const rows = await snapshotPage(db, entity, { after: state.after || null, all: state.all, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    kind: "page",
    position: state.position,
    items: page.map((row) => snapshotItem(entity, row)),
    next: rows.length > q.limit && last ? encode({ ...state, after: last.key }) : null,
  };
}

/**
 * `{subject, sequence, eventId, time, data}` as JSON text. `data` is the latest event's, as stored. When retention
 * pruned that event (an entity idle longer than RETENTION_EVENTS_MS), `eventId` is null and `data` is rebuilt from
 * the stored state: status, phase and sequence as the event carried them, `details` empty.
 */
function snapshotItem(entity: SnapshotEntity, row: SnapshotRow): string {
  const subject = `${entity}/${row.key}`;
  if (row.data !== null && row.time) {
    return `{"subject":${JSON.stringify(subject)},"sequence":${row.sequence},"eventId":${JSON.stringify(row.eventId)},"time":${JSON.stringify(row.time.toISOString())},"data":${row.data}}`;
  }
  const status = row.status ?? "created";
  const data = eventData({
    entity,
    entityId: row.key,
    externalId: row.externalId,
    status,
    previousStatus: null,
    providerStatus: status,
    sequence: row.sequence,
    timeSource: "hub",
  });
  return JSON.stringify({ subject, sequence: row.sequence, eventId: null, time: row.changedAt.toISOString(), data });
}
