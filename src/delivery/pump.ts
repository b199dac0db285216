// The delivery pump: every attempt (first, retry, re-send) takes one path in one of any number of worker
// processes:
//   claim    lease due deliveries of the lanes that have work (db/delivery-lanes.ts), as many as each
//            lane's in-flight limit, rate limit and ordering mode allow, and a fair share of this process's
//            capacity (delivery/lane-policy.ts)
//   send     sign and POST (delivery/deliver.ts)
//   decide   pure: delivered, retry after a delay, throttled (429) or failed for good (delivery/decisions.ts)
//   record   the attempt, the delivery's new state and its lease's end (group commit), which releases the
//            next delivery of the subject in ordered mode
// The backlog lives in Postgres: this process holds only what it has in flight, so a dead endpoint with
// 100,000 deliveries waiting costs no memory, and a slow lane holds only its own slots.
//
// First attempts of the Flovi inbox's deliveries are claimed inside the drain's own transaction
// (`claimWithin`), so they start the moment it commits. Otherwise a lane is claimed for when something says it
// has work: the outbox relay that fanned out its deliveries (`nudge`), an attempt of this process ending
// while the lane had more (or, in ordered mode, releasing the next of its subject), its rate limiter's next
// slot or its retry's time, and a poll every DELIVERY_POLL_INTERVAL_MS (retries, other processes' work,
// leases that ran out).
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { onPool, type Sql } from "../db/sql.js";
import {
  activeLanes as lanesStillActive,
  claimDeliveries,
  lanesWithDueWork,
  type ClaimedDelivery,
  type ClaimResult,
  type LaneRequest,
  type LaneRow,
} from "../db/delivery-lanes.js";
import { eventTraceContext } from "../db/events.js";
import type { Metrics } from "../observability/metrics.js";
import { carrierOf, contextOf, inSpan, recentEventTrace, SpanKind, tracingOn, type Span } from "../observability/trace.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import { attemptRecord, decideAttempt, type DeliverySettings } from "./decisions.js";
import { send } from "./deliver.js";
import { planClaims } from "./lane-policy.js";

export interface PumpSettings {
  /** A lane whose last N attempts all failed probes its endpoint one request at a time (0: never)... */
  circuitAfterFailures: number;
  /** ...one per this many ms. */
  circuitProbeMs: number;
  /** Attempts in flight in this process at most, shared fairly by the lanes with work. */
  capacity: number;
  /** How often to look for lanes with due work that nobody nudged. */
  pollIntervalMs: number;
  /** One readable info line per attempt (event type, endpoint host, status, latency): LOG_DELIVERY_OUTCOMES. */
  logOutcomes?: boolean;
}

/** A claim made inside a writer's transaction: start its attempts once the transaction committed. */
interface ClaimWithin {
  start(): void;
  /** The transaction rolled back: its leases never existed. */
  abandon(): void;
}

export interface DeliveryPump {
  /** These lanes have new work: claim for them soon. */
  nudge(subscriptionIds: Iterable<string>): void;
  /**
   * Claims these lanes' due deliveries inside the caller's transaction (the one that wrote them): the first
   * attempts start right after its commit, with no claim of their own.
   */
  claimWithin(sql: Sql, subscriptionIds: Iterable<string>): Promise<ClaimWithin>;
  /** Claims for every lane with due work now (what the poll does). */
  poll(): Promise<void>;
  /** Resolves when no claim or attempt of this process is under way and every attempt is recorded. */
  idle(): Promise<void>;
  /** Stops claiming; resolves once the attempts under way are recorded. */
  close(): Promise<void>;
}

/** How long a lease outlives the attempt's timeout. */
const LEASE_MARGIN_MS = 15_000;

/** Retry a lane whose claim another process held after this long. */
const CONTENDED_RETRY_MS = 5;

export function createDeliveryPump(deps: {
  db: Database;
  log: Logger;
  metrics: Metrics;
  delivery: DeliverySettings;
  recorder: AttemptRecorder;
  settings: PumpSettings;
}): DeliveryPump {
  const { db, log, metrics, delivery, recorder, settings } = deps;
  // A lease outlives any attempt (its timeout) and its record by a wide margin: only a process that died (or
  // lost its database for that long) lets one run out, and then any worker attempts the delivery again.
  const leaseMs = delivery.timeoutMs + LEASE_MARGIN_MS;
  const dirty = new Set<string>();
  /** Lanes whose last claim got all it asked for: more may be waiting once a slot frees. */
  const more = new Set<string>();
  const local = new Map<string, number>();
  const timers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  const attempts = new Set<Promise<void>>();
  let total = 0;
  let claiming: Promise<void> | undefined;
  let polling: Promise<void> | undefined;
  let closed = false;

  const pollTimer = setInterval(() => {
    if (!polling) polling = poll().finally(() => (polling = undefined));
  }, settings.pollIntervalMs);
  pollTimer.unref();

  /** Claim for the lane at `at` (the earliest of the times asked for). */
  function later(subscriptionId: string, at: Date) {
    const existing = timers.get(subscriptionId);
    if (closed || (existing && existing.at <= at.getTime())) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(
      () => {
        timers.delete(subscriptionId);
        nudge([subscriptionId]);
      },
      Math.max(1, at.getTime() - Date.now()),
    );
    timer.unref();
    timers.set(subscriptionId, { timer, at: at.getTime() });
  }

  function nudge(ids: Iterable<string>) {
    if (closed) return;
    for (const id of ids) dirty.add(id);
    kick();
  }

  function kick() {
    if (claiming || closed || dirty.size === 0 || total >= settings.capacity) return;
    claiming = claimRound()
      .catch((error: unknown) => log.warn({ err: error }, "delivery claim failed; the next poll retries"))
      .finally(() => {
        claiming = undefined;
        kick();
      });
  }

  /** This process's fair share for each lane (delivery/lane-policy.ts); lanes that get none wait their turn. */
  function plan(lanes: string[], free: number): LaneRequest[] {
    const activeLanes = new Set([...local.keys(), ...lanes, ...dirty]).size;
    const requests = planClaims(lanes, { total: settings.capacity, free, activeLanes, inFlight: (id) => local.get(id) ?? 0 }).filter((r) => r.want > 0);
    const asked = new Set(requests.map((r) => r.subscriptionId));
    for (const id of lanes) {
      if (asked.has(id)) continue;
      // At its share of this process's slots: one of its own attempts ending asks again. Holding none, it got
      // nothing only because the lanes before it took the free slots: in line for the next.
      if (local.has(id)) more.add(id);
      else dirty.add(id);
    }
    return requests;
  }

  const claimSettings = () => ({ leaseMs, circuitAfterFailures: settings.circuitAfterFailures, circuitProbeMs: settings.circuitProbeMs });

  /** Starts what a claim leased, and notes per lane whether more may be waiting. */
  function started(requests: LaneRequest[], result: ClaimResult) {
    const got = new Map<string, number>();
    for (const c of result.claimed) got.set(c.subscriptionId, (got.get(c.subscriptionId) ?? 0) + 1);
    for (const lane of result.lanes) {
      // Took all it could (its share here, its limit in every process, its rate): more may be waiting, so
      // one of its attempts ending asks again. Took less: nothing more was due.
      if ((got.get(lane.subscriptionId) ?? 0) >= lane.room) more.add(lane.subscriptionId);
      else more.delete(lane.subscriptionId);
      if (lane.nextAt) later(lane.subscriptionId, lane.nextAt);
    }
    const lanesById = new Map(result.lanes.map((l) => [l.subscriptionId, l]));
    for (const claimed of result.claimed) start(claimed, lanesById.get(claimed.subscriptionId)!);
    // Lanes the claim could not lock: another process was claiming for them (ask again soon) or they are
    // disabled, deleted or paused (the poll finds them when they have due work again).
    const skipped = requests.map((r) => r.subscriptionId).filter((id) => !lanesById.has(id));
    if (skipped.length === 0) return;
    lanesStillActive(db, skipped).then(
      (ids) => {
        for (const id of ids) later(id, new Date(Date.now() + CONTENDED_RETRY_MS));
      },
      (error: unknown) => log.warn({ err: error }, "could not look up skipped lanes; the next poll finds them"),
    );
  }

  async function claimRound() {
    const free = settings.capacity - total;
    // Round robin: lanes not served this round stay first in line for the next.
    const lanes = [...dirty].slice(0, free);
    for (const id of lanes) dirty.delete(id);
    const requests = plan(lanes, free);
    if (requests.length === 0) return;
    started(requests, await claimDeliveries(onPool(db), requests, randomUUID(), claimSettings()));
  }

  async function claimWithin(sql: Sql, subscriptionIds: Iterable<string>): Promise<ClaimWithin> {
    const lanes = [...new Set(subscriptionIds)];
    const requests = closed ? [] : plan(lanes, settings.capacity - total);
    if (requests.length === 0) return { start: kick, abandon: () => nudge(lanes) };
    // The slots are this claim's until its transaction ends: no other claim of this process takes them.
    const reserved = requests.reduce((n, r) => n + r.want, 0);
    total += reserved;
    let result: ClaimResult;
    try {
      result = await claimDeliveries(sql, requests, randomUUID(), claimSettings());
    } catch (error) {
      total -= reserved;
      throw error;
    }
    let settled = false;
    return {
      start() {
        if (settled) return;
        settled = true;
        total -= reserved;
        started(requests, result);
        kick();
      },
      abandon() {
        if (settled) return;
        settled = true;
        total -= reserved;
        nudge(lanes);
      },
    };
  }

  function start(claimed: ClaimedDelivery, lane: LaneRow) {
    total += 1;
    local.set(lane.subscriptionId, (local.get(lane.subscriptionId) ?? 0) + 1);
    const running: Promise<void> = attempt(claimed, lane)
      .catch((error: unknown) =>
        log.warn({ err: error, webhookDeliveryId: claimed.webhookDeliveryId }, "delivery attempt not recorded; its lease runs out and it is attempted again"),
      )
      .finally(() => {
        attempts.delete(running);
        total -= 1;
        const n = (local.get(lane.subscriptionId) ?? 1) - 1;
        if (n > 0) local.set(lane.subscriptionId, n);
        else local.delete(lane.subscriptionId);
        if (more.has(lane.subscriptionId)) dirty.add(lane.subscriptionId);
        kick();
      });
    attempts.add(running);
  }

  async function attempt(claimed: ClaimedDelivery, lane: LaneRow) {
    if (!tracingOn()) return attemptIn(claimed, lane, null);
    // Every attempt (first or retry, in whichever worker) is a span of the trace that wrote its event.
    const parent = contextOf(recentEventTrace(claimed.eventId) ?? (await eventTraceContext(db, claimed.eventId)));
    const attributes = {
      "hub.webhook_delivery_id": claimed.webhookDeliveryId,
      "hub.event_id": claimed.eventId,
      "hub.subscription_id": lane.subscriptionId,
      "hub.attempt": claimed.attempts + 1,
    };
    return inSpan("webhook.deliver", { parent, kind: SpanKind.CLIENT, attributes }, (span) => attemptIn(claimed, lane, span));
  }

  async function attemptIn(claimed: ClaimedDelivery, lane: LaneRow, span: Span | null) {
    const now = new Date();
    const outcome = await send(lane, claimed.eventId, claimed.body, delivery, now, span ? carrierOf() : null);
    const decision = decideAttempt(outcome, claimed, delivery.schedule, new Date());
    span?.setAttributes({ "http.response.status_code": outcome.statusCode ?? 0, "hub.outcome": decision.kind });
    await recorder.record(attemptRecord(claimed, claimed.attempts + 1, now, outcome, decision), decision);
    const outcomeLabel = decision.kind === "delivered" ? "succeeded" : decision.kind;
    metrics.deliveries.inc({ outcome: outcomeLabel });
    metrics.deliveryAttempts.inc({ subscription_id: lane.subscriptionId, outcome: outcomeLabel });
    const fields = {
      webhookDeliveryId: claimed.webhookDeliveryId,
      eventId: claimed.eventId,
      subscriptionId: lane.subscriptionId,
      attempt: claimed.attempts + 1,
      statusCode: outcome.statusCode,
    };
    if (settings.logOutcomes)
      log.info(
        { ...fields, durationMs: Math.round(outcome.durationMs) },
        outcomeLine(claimed, lane, outcome.statusCode, outcome.error, decision.kind, outcome.durationMs),
      );
    else if (decision.kind === "delivered") log.debug({ ...fields, durationMs: outcome.durationMs }, "webhook delivered");
    else if (decision.kind === "failed") log.warn({ ...fields, error: decision.reason }, "webhook delivery failed");
    else
      log.info(
        { ...fields, error: outcome.error, nextDelayMs: decision.delayMs },
        decision.kind === "throttled" ? "subscriber asked to slow down" : "webhook delivery attempt failed",
      );
    if (decision.kind === "retry" || decision.kind === "throttled") later(lane.subscriptionId, new Date(Date.now() + decision.delayMs));
    // Ordered mode: the record released the next delivery of this subject, due now.
    else if (lane.ordered) dirty.add(lane.subscriptionId);
  }

  async function poll() {
    if (closed) return;
    try {
      nudge(await lanesWithDueWork(db));
    } catch (error) {
      log.warn({ err: error }, "could not look for due deliveries; the next poll retries");
    }
  }

  async function idle() {
    for (;;) {
      const pending = [claiming, polling, ...attempts].filter(Boolean);
      if (pending.length === 0) break;
      await Promise.allSettled(pending);
    }
    await recorder.idle();
  }

  return {
    nudge,
    claimWithin,
    poll,
    idle,
    async close() {
      closed = true;
      clearInterval(pollTimer);
      for (const { timer } of timers.values()) clearTimeout(timer);
      timers.clear();
      await idle();
    },
  };
}

/** `reservation.created reservation/4711 → hooks.example.com: 204 in 12 ms (attempt 1)`, for people watching. */
function outcomeLine(claimed: ClaimedDelivery, lane: LaneRow, statusCode: number | null, error: string | null, kind: string, durationMs: number): string {
  let type = "event";
  let subject = claimed.eventId;
  try {
    const event = JSON.parse(claimed.body) as { type?: string; subject?: string };
    type = event.type ?? type;
    subject = event.subject ?? subject;
  } catch {
    // the body is the envelope we wrote: always JSON
  }
  let host = "?";
  try {
    host = new URL(lane.url).host;
  } catch {
    // a URL that does not parse was refused before any attempt
  }
  const answer = statusCode !== null ? String(statusCode) : (error ?? "no answer");
  return `${type} ${subject} → ${host}: ${answer} in ${Math.round(durationMs)} ms (attempt ${claimed.attempts + 1}${kind === "delivered" ? "" : `, ${kind}`})`;
}
