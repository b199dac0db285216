// One poll of one MFB order: fetch tracking, store the carrier events not seen before, fold the parcels
// into the order's status, write the events to the outbox, and set the next poll time — in one transaction.
import type { Logger } from "pino";
import type { Database } from "../db/client.js";
import { writeEvents, type Tx } from "../db/outbox.js";
import type { NewEvent } from "../domain/events.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { MfbClient } from "../providers/mfb/client.js";
import { englishLabel, foldParcels, isFinal, statusOfCode, type ParcelTracking, type ShipmentStatus } from "../providers/mfb/tracking.js";
import { ProviderError } from "./provider-error.js";
import { nextPollDelayMs, pauseProvider, providerPausedUntil } from "./schedule.js";

export const MFB = "mfb";

export interface PollSettings {
  intervalMs: number;
  pauseMs: number;
}

export type PollOutcome =
  | { kind: "skipped"; reason: string }
  | { kind: "polled"; newEvents: number; status: string | null; final: boolean }
  | { kind: "paused"; until: Date }
  | { kind: "stopped"; reason: string }
  | { kind: "failed"; error: string; failures: number }
  | { kind: "rate_limited"; retryAfterMs: number };

const json = (v: unknown) => v as Prisma.InputJsonValue;

export async function pollMfbOrder(
  deps: { db: Database; client: MfbClient; log: Logger; settings: PollSettings },
  orderId: string,
): Promise<PollOutcome> {
  const { db, log, settings } = deps;
  const order = await db.prisma.mfbOrder.findUnique({ where: { id: orderId } });
  if (!order || !order.active) return { kind: "skipped", reason: order ? "inactive" : "unknown" };
  const pausedUntil = await providerPausedUntil(db, MFB);
  if (pausedUntil) {
    await db.prisma.mfbOrder.update({ where: { id: orderId }, data: { nextPollAt: pausedUntil } });
    return { kind: "paused", until: pausedUntil };
  }

  let parcels: ParcelTracking[];
  try {
    parcels = await deps.client.getTracking(orderId);
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    return handleFailure(deps, orderId, order.consecutiveFailures, error);
  }

  const outcome = await db.prisma.$transaction((tx) => applyTracking(tx, orderId, parcels, settings));
  if (outcome.kind === "polled" && outcome.newEvents > 0) log.info({ orderId, newEvents: outcome.newEvents, status: outcome.status }, "mfb tracking updated");
  return outcome;
}

async function handleFailure(
  deps: { db: Database; log: Logger; settings: PollSettings },
  orderId: string,
  failures: number,
  error: ProviderError,
): Promise<PollOutcome> {
  const { db, log, settings } = deps;
  const now = new Date();
  switch (error.kind) {
    case "auth": {
      const until = await pauseProvider(db, MFB, settings.pauseMs, error.message);
      await db.prisma.mfbOrder.update({ where: { id: orderId }, data: { nextPollAt: until, lastError: error.message } });
      log.error({ provider: MFB, httpStatus: error.httpStatus, pausedUntil: until }, "MFB REFUSED OUR CREDENTIALS: all MFB polling paused; check MFB_LOGIN / MFB_PASSWORD");
      return { kind: "paused", until };
    }
    case "not_found":
      await db.prisma.mfbOrder.update({
        where: { id: orderId },
        data: { active: false, nextPollAt: null, stoppedReason: "order_not_found", stoppedAt: now, lastError: error.message, lastPolledAt: now },
      });
      log.warn({ orderId }, "mfb order not found; polling stopped");
      return { kind: "stopped", reason: "order_not_found" };
    case "rate_limited": {
      const wait = error.retryAfterMs ?? 60_000;
      await db.prisma.mfbOrder.update({ where: { id: orderId }, data: { nextPollAt: new Date(now.getTime() + wait), lastError: error.message } });
      return { kind: "rate_limited", retryAfterMs: wait };
    }
    case "transient":
    case "unexpected": {
      const next = failures + 1;
      await db.prisma.mfbOrder.update({
        where: { id: orderId },
        data: {
          consecutiveFailures: next,
          lastError: error.message.slice(0, 500),
          lastPolledAt: now,
          nextPollAt: new Date(now.getTime() + nextPollDelayMs(settings.intervalMs, { failures: next })),
        },
      });
      (error.kind === "transient" ? log.warn.bind(log) : log.error.bind(log))({ orderId, httpStatus: error.httpStatus, failures: next, err: error.message }, "mfb poll failed");
      return { kind: "failed", error: error.message, failures: next };
    }
  }
}

async function applyTracking(tx: Tx, orderId: string, parcels: ParcelTracking[], settings: PollSettings): Promise<PollOutcome> {
  const [order] = await tx.$queryRaw<{ status: string | null; sequence: number; active: boolean }[]>`
    SELECT status, sequence, active FROM mfb_orders WHERE id = ${orderId}::uuid FOR UPDATE`;
  if (!order || !order.active) return { kind: "skipped", reason: "inactive" };

  // Store every event; the unique key (order, parcel, code, happened_at) tells which ones are new.
  const fresh: { parcelIndex: number; code: string; happenedAt: Date; label: Record<string, string>; location?: unknown; details?: unknown }[] = [];
  for (const parcel of parcels) {
    for (const e of parcel.events) {
      const happenedAt = new Date(e.happened_at);
      const inserted = await tx.mfbTrackingEvent.createManyAndReturn({
        data: [{ orderId, parcelIndex: parcel.parcel_index, code: e.code, happenedAt, label: json(e.label), location: json(e.location ?? null), details: json(e.details ?? null) }],
        skipDuplicates: true,
        select: { id: true },
      });
      if (inserted.length > 0) fresh.push({ parcelIndex: parcel.parcel_index, code: e.code, happenedAt, label: e.label, location: e.location, details: e.details });
    }
  }
  fresh.sort((a, b) => a.happenedAt.getTime() - b.happenedAt.getTime() || a.parcelIndex - b.parcelIndex);

  // Each parcel's status is that of its latest status-bearing event, whatever order they arrived in.
  const stored = await tx.mfbTrackingEvent.findMany({ where: { orderId }, orderBy: [{ happenedAt: "asc" }, { id: "asc" }] });
  const parcelState = new Map<number, { status: ShipmentStatus; code: string; at: Date }>();
  for (const e of stored) {
    const status = statusOfCode(e.code);
    if (status) parcelState.set(e.parcelIndex, { status, code: e.code, at: e.happenedAt });
  }
  for (const [parcelIndex, s] of parcelState) {
    await tx.mfbParcel.upsert({
      where: { orderId_parcelIndex: { orderId, parcelIndex } },
      create: { orderId, parcelIndex, status: s.status, lastCode: s.code, lastEventAt: s.at },
      update: { status: s.status, lastCode: s.code, lastEventAt: s.at },
    });
  }
  const statuses = [...parcelState.values()].map((s) => s.status);
  const folded = foldParcels(statuses);
  const final = isFinal(statuses);

  const events: NewEvent[] = [];
  let sequence = order.sequence;
  for (const e of fresh) {
    sequence += 1;
    events.push({
      entity: "shipment",
      entityId: orderId,
      type: "tracking_event",
      status: folded ?? "created",
      previousStatus: order.status,
      providerStatus: e.code,
      sequence,
      time: e.happenedAt,
      details: {
        parcelIndex: e.parcelIndex,
        code: e.code,
        label: englishLabel(e),
        labels: e.label,
        ...(e.location ? { location: e.location } : {}),
        ...(e.details ? { carrierDetails: e.details } : {}),
        happenedAt: e.happenedAt.toISOString(),
      },
      dedupeKey: `mfb:${orderId}:${e.parcelIndex}:${e.code}:${e.happenedAt.toISOString()}`,
    });
  }
  if (folded && folded !== order.status) {
    sequence += 1;
    const latest = fresh.at(-1);
    events.push({
      entity: "shipment",
      entityId: orderId,
      type: folded,
      status: folded,
      previousStatus: order.status,
      providerStatus: latest?.code ?? folded,
      sequence,
      time: latest?.happenedAt ?? new Date(),
      details: { parcels: [...parcelState].map(([parcelIndex, s]) => ({ parcelIndex, status: s.status, code: s.code })) },
      dedupeKey: `mfb:${orderId}:status:${sequence}:${folded}`,
    });
  }
  const reference = await tx.mfbOrder.findUnique({ where: { id: orderId }, select: { reference: true } });
  for (const e of events) e.externalId = reference?.reference ?? null;
  await writeEvents(tx, events);

  const now = new Date();
  const moving = folded === "out_for_delivery" || folded === "exception";
  await tx.mfbOrder.update({
    where: { id: orderId },
    data: {
      status: folded,
      sequence,
      lastPolledAt: now,
      consecutiveFailures: 0,
      lastError: null,
      ...(final
        ? { active: false, nextPollAt: null, stoppedReason: "delivered", stoppedAt: now }
        : { nextPollAt: new Date(now.getTime() + nextPollDelayMs(settings.intervalMs, { moving })) }),
    },
  });
  return { kind: "polled", newEvents: fresh.length, status: folded, final };
}
