// Replay by time for one subscription (docs/delivery.md, "Replaying a window"): the stored events of a window
// that the subscription takes, delivered again through its lane in log order, each with its event's webhook-id
// and `hub-replay: <replay id>`. Audited; its progress is its deliveries counted by status.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { audited } from "../db/audit.js";
import type { Database } from "../db/client.js";
import { feedReplay, oldestEventAt, REPLAY_PARTS, type ReplayProgress, recentReplays, replayProgress, writeReplay } from "../db/replays.js";
import { getSubscription } from "../db/subscriptions.js";
import { eventTypeFilter } from "./delivery-search.js";

const time = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

export const replayInput = z
  .object({
    since: time,
    until: time.optional(),
    subject: z.string().min(1).max(300).optional(),
    types: z.array(eventTypeFilter).min(1).max(20).optional(),
  })
  .strict()
  .refine((r) => !r.until || r.since < r.until, { message: "since must be before until", path: ["until"] });

export type ReplayInput = z.output<typeof replayInput>;

export type ReplayResult =
  | { kind: "replaying"; id: string; events: number }
  | { kind: "not_found" }
  | { kind: "subscription_inactive" }
  /** The window starts before the retention horizon: events that old may be gone, so the replay would miss some. */
  | { kind: "past_retention"; earliest: Date; oldestKept: Date | null };

export interface ReplayDeps {
  db: Database;
  log: Logger;
  /** RETENTION_EVENTS_MS: how far back the log holds events. */
  retentionMs: number;
  /** REPLAY_RATE_PER_SECOND: how fast its deliveries come due. */
  ratePerSecond: number;
  now?: () => Date;
}

/** What a replay needs from the configuration. */
export const replaySettings = (config: { RETENTION_EVENTS_MS: number; REPLAY_RATE_PER_SECOND: number }) => ({
  retentionMs: config.RETENTION_EVENTS_MS,
  ratePerSecond: config.REPLAY_RATE_PER_SECOND,
});

export async function requestReplay(deps: ReplayDeps, actor: string, subscriptionId: string, input: ReplayInput): Promise<ReplayResult> {
  const now = deps.now?.() ?? new Date();
  // A malformed id names nothing; a database that is down is an error (a 5xx), never a "not found".
  const subscription = z.uuid().safeParse(subscriptionId).success ? await getSubscription(deps.db, subscriptionId) : null;
  if (!subscription) return { kind: "not_found" };
  if (subscription.status !== "active") return { kind: "subscription_inactive" };
  const earliest = new Date(now.getTime() - deps.retentionMs);
  if (input.since < earliest) return { kind: "past_retention", earliest, oldestKept: await oldestEventAt(deps.db) };
  const request = {
    id: randomUUID(),
    subscriptionId,
    since: input.since,
    until: input.until ?? now,
    subject: input.subject ?? null,
    types: input.types ?? [],
    requestedBy: actor,
    ratePerSecond: deps.ratePerSecond,
  };
  const events = await audited(deps.db, deps.log, async (sql) => {
    const written = await writeReplay(sql, request);
    // Its first part now, due at once; the worker's replay feeder writes the rest as it comes due.
    if (written !== null) await feedReplay(sql, { ...REPLAY_PARTS, now: null, replayId: request.id });
    return {
      result: written,
      audit:
        written === null
          ? null
          : {
              actor,
              action: "subscription.replay",
              target: subscriptionId,
              details: {
                replayId: request.id,
                since: request.since.toISOString(),
                until: request.until.toISOString(),
                subject: request.subject,
                types: request.types,
                events: written,
              },
            },
    };
  });
  return events === null ? { kind: "not_found" } : { kind: "replaying", id: request.id, events };
}

/** `done` once every delivery is written and none is pending or held. */
const withDone = ({ fed, ...progress }: ReplayProgress) => ({
  ...progress,
  done: fed && (progress.deliveries.pending ?? 0) + (progress.deliveries.held ?? 0) === 0,
});

/** A replay's request, how many of its deliveries are written, those by status, and `done`. */
export async function replayStatus(db: Database, subscriptionId: string, replayId: string) {
  if (!z.uuid().safeParse(replayId).success || !z.uuid().safeParse(subscriptionId).success) return null;
  const progress = await replayProgress(db, subscriptionId, replayId);
  return progress ? withDone(progress) : null;
}

/** A subscription's latest replays (the console's subscription page). */
export async function latestReplays(db: Database, subscriptionId: string, limit = 5) {
  return (await recentReplays(db, subscriptionId, limit)).map(withDone);
}
