// Registering, reading and stopping tracked MFB orders and GreenFlow bookings.
import { Router } from "express";
import { z } from "zod";
import { audited } from "../db/audit.js";
import { providerStatus } from "../config/env.js";
import type { AppDeps } from "../app.js";
import type { Database } from "../db/client.js";
import type { GreenflowBooking, MfbOrder } from "../generated/prisma/client.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

const mfbInput = z.object({
  orderId: z.uuid({ error: "orderId must be the MFB order's UUID" }),
  reference: z.string().trim().min(1).max(200).optional(),
});

/** GreenFlow accepts its booking_code (BR-1234567) or its local_number (GFC042389XY) as {code}. */
const bookingCode = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/, "bookingCode must be a GreenFlow booking_code or local_number");
const greenflowInput = z.object({ bookingCode, lastname: z.string().trim().min(1).max(100) });

function polling(item: MfbOrder | GreenflowBooking) {
  return {
    active: item.active,
    quietPolls: item.quietPolls,
    lastPolledAt: item.lastPolledAt,
    nextPollAt: item.nextPollAt,
    consecutiveFailures: item.consecutiveFailures,
    lastError: item.lastError,
    stoppedReason: item.stoppedReason,
    stoppedAt: item.stoppedAt,
  };
}

async function statusHistory(db: Database, entity: "shipment" | "rental", entityId: string) {
  const rows = await db.prisma.event.findMany({
    where: { entity, entityId, NOT: { type: "shipment.tracking_event" } },
    orderBy: { sequence: "asc" },
    select: { envelope: true },
  });
  return rows.map((r) => {
    const e = r.envelope as { id: string; time: string; data: { status: string; previousStatus: string | null; sequence: number; providerStatus: string } };
    return { eventId: e.id, status: e.data.status, previousStatus: e.data.previousStatus, providerStatus: e.data.providerStatus, sequence: e.data.sequence, time: e.time };
  });
}

export async function mfbOrderView(db: Database, orderId: string) {
  const order = await db.prisma.mfbOrder.findUnique({
    where: { id: orderId },
    include: { parcels: { orderBy: { parcelIndex: "asc" } }, events: { orderBy: [{ happenedAt: "asc" }, { id: "asc" }] } },
  });
  if (!order) return null;
  return {
    orderId: order.id,
    reference: order.reference,
    status: order.status,
    sequence: order.sequence,
    // From GET /orders/:id (null until fetched): how many parcels must be delivered, carrier, product, price.
    order: { parcelCount: order.parcelCount, carrier: order.carrier, product: order.product, productName: order.productName, price: order.price },
    parcels: order.parcels.map((p) => ({
      parcelIndex: p.parcelIndex,
      status: p.status,
      lastCode: p.lastCode,
      lastEventAt: p.lastEventAt,
      events: order.events
        .filter((e) => e.parcelIndex === p.parcelIndex)
        .map((e) => ({ code: e.code, happenedAt: e.happenedAt, label: e.label, location: e.location, details: e.details })),
    })),
    unassignedEvents: order.events
      .filter((e) => !order.parcels.some((p) => p.parcelIndex === e.parcelIndex))
      .map((e) => ({ parcelIndex: e.parcelIndex, code: e.code, happenedAt: e.happenedAt, label: e.label })),
    history: await statusHistory(db, "shipment", order.id),
    polling: polling(order),
    createdAt: order.createdAt,
  };
}

export async function greenflowBookingView(db: Database, code: string) {
  const booking = await db.prisma.greenflowBooking.findUnique({ where: { bookingCode: code } });
  if (!booking) return null;
  return {
    bookingCode: booking.bookingCode,
    localNumber: booking.localNumber,
    uuid: booking.uuid,
    status: booking.status,
    gdsStatus: booking.gdsStatus,
    undocumentedStatus: booking.unknownStatus,
    pickupDate: booking.pickupDate,
    dropoffDate: booking.dropoffDate,
    sequence: booking.sequence,
    history: await statusHistory(db, "rental", booking.bookingCode),
    polling: polling(booking),
    createdAt: booking.createdAt,
  };
}

/** The sweep's lease for an item queued at registration: if the queue misses it, the sweep gets it after this. */
const REGISTRATION_LEASE_MS = 30_000;

export function trackingRoutes(deps: Pick<AppDeps, "db" | "log" | "config" | "queues">): Router {
  const router = Router();
  const { db } = deps;
  /**
   * A newly registered (or resumed) item is polled at once, not at the next sweep: its poll job is queued now
   * and the sweep's lease pushed out so the two do not both take it. If the queue is unreachable, the sweep
   * polls it when the lease ends.
   */
  async function pollNow(provider: "mfb" | "greenflow", key: string) {
    const status = providerStatus(deps.config).find((s) => s.provider === provider)!;
    const item = provider === "mfb" ? await db.prisma.mfbOrder.findUnique({ where: { id: key } }) : await db.prisma.greenflowBooking.findUnique({ where: { bookingCode: key } });
    if (!status.enabled || !item?.active || (item.lastPolledAt && item.nextPollAt && item.nextPollAt > new Date())) return;
    const lease = new Date(Date.now() + REGISTRATION_LEASE_MS);
    if (provider === "mfb") await db.prisma.mfbOrder.update({ where: { id: key }, data: { nextPollAt: lease } });
    else await db.prisma.greenflowBooking.update({ where: { bookingCode: key }, data: { nextPollAt: lease } });
    try {
      if (provider === "mfb") await deps.queues.enqueue("pollMfbOrder", { orderId: key });
      else await deps.queues.enqueue("pollGreenflowBooking", { bookingCode: key });
    } catch (error) {
      deps.log.warn({ err: error, provider }, "could not queue the first poll; the sweep will poll it");
    }
  }

  /** An operator's stop (DELETE), with its audit row in the same transaction. */
  function stopByOperator(actor: string | undefined, provider: "mfb" | "greenflow", key: string) {
    return audited(db, deps.log, async (tx) => {
      const stop = { active: false, nextPollAt: null, stoppedReason: "stopped_by_operator", stoppedAt: new Date() };
      const { count } =
        provider === "mfb"
          ? await tx.mfbOrder.updateMany({ where: { id: key, active: true }, data: stop })
          : await tx.greenflowBooking.updateMany({ where: { bookingCode: key, active: true }, data: stop });
      return { result: count, audit: { actor: actor ?? "admin", action: "tracking.stop", target: `${provider}/${key}`, details: { stopped: count > 0 } } };
    });
  }

  // Registering while polling is off works (the item waits), but the answer says so.
  const warning = (provider: "mfb" | "greenflow") => {
    const status = providerStatus(deps.config).find((s) => s.provider === provider)!;
    return status.enabled ? {} : { warning: `${provider === "mfb" ? "MyFlyingBox" : "GreenFlow"} polling is off: ${status.why}. The item is stored and will be polled once it is set.` };
  };

  router.post("/tracking/mfb-orders", async (req, res) => {
    const input = parseInput(mfbInput, req.body);
    const existing = await db.prisma.mfbOrder.findUnique({ where: { id: input.orderId } });
    if (!existing) {
      await db.prisma.mfbOrder.create({ data: { id: input.orderId, reference: input.reference ?? null, nextPollAt: new Date() } });
    } else if (!existing.active && existing.stoppedReason !== "delivered") {
      // Registering a stopped (not delivered) order again resumes it.
      await db.prisma.mfbOrder.update({
        where: { id: input.orderId },
        data: { active: true, nextPollAt: new Date(), stoppedReason: null, stoppedAt: null, consecutiveFailures: 0, ...(input.reference ? { reference: input.reference } : {}) },
      });
    } else if (input.reference && input.reference !== existing.reference) {
      await db.prisma.mfbOrder.update({ where: { id: input.orderId }, data: { reference: input.reference } });
    }
    req.log.info({ orderId: input.orderId, created: !existing }, "mfb order tracked");
    await pollNow("mfb", input.orderId);
    res.status(existing ? 200 : 201).json({ ...(await mfbOrderView(db, input.orderId)), ...warning("mfb") });
  });

  router.get("/tracking/mfb-orders/:orderId", async (req, res) => {
    const view = z.uuid().safeParse(req.params.orderId).success ? await mfbOrderView(db, req.params.orderId) : null;
    if (!view) throw new HttpError(404, "mfb_order_not_tracked", `MFB order ${req.params.orderId} is not tracked`);
    res.json(view);
  });

  router.delete("/tracking/mfb-orders/:orderId", async (req, res) => {
    const known = z.uuid().safeParse(req.params.orderId).success && (await db.prisma.mfbOrder.count({ where: { id: req.params.orderId } })) > 0;
    if (!known) throw new HttpError(404, "mfb_order_not_tracked", `MFB order ${req.params.orderId} is not tracked`);
    await stopByOperator(req.actor, "mfb", req.params.orderId);
    res.json(await mfbOrderView(db, req.params.orderId));
  });

  router.post("/tracking/greenflow-bookings", async (req, res) => {
    const input = parseInput(greenflowInput, req.body);
    const existing = await db.prisma.greenflowBooking.findUnique({ where: { bookingCode: input.bookingCode } });
    if (!existing) {
      await db.prisma.greenflowBooking.create({ data: { bookingCode: input.bookingCode, lastname: input.lastname, nextPollAt: new Date() } });
    } else if (existing.lastname !== input.lastname || (!existing.active && existing.stoppedReason === "stopped_by_operator") || existing.stoppedReason === "booking_not_found_or_lastname_mismatch") {
      // A corrected lastname, or an operator's stop undone: poll again.
      await db.prisma.greenflowBooking.update({
        where: { bookingCode: input.bookingCode },
        data: { lastname: input.lastname, active: true, nextPollAt: new Date(), stoppedReason: null, stoppedAt: null, consecutiveFailures: 0 },
      });
    }
    req.log.info({ bookingCode: input.bookingCode, created: !existing }, "greenflow booking tracked");
    await pollNow("greenflow", input.bookingCode);
    res.status(existing ? 200 : 201).json({ ...(await greenflowBookingView(db, input.bookingCode)), ...warning("greenflow") });
  });

  router.get("/tracking/greenflow-bookings/:bookingCode", async (req, res) => {
    const view = await greenflowBookingView(db, req.params.bookingCode);
    if (!view) throw new HttpError(404, "greenflow_booking_not_tracked", `GreenFlow booking ${req.params.bookingCode} is not tracked`);
    res.json(view);
  });

  router.delete("/tracking/greenflow-bookings/:bookingCode", async (req, res) => {
    if ((await db.prisma.greenflowBooking.count({ where: { bookingCode: req.params.bookingCode } })) === 0) {
      throw new HttpError(404, "greenflow_booking_not_tracked", `GreenFlow booking ${req.params.bookingCode} is not tracked`);
    }
    await stopByOperator(req.actor, "greenflow", req.params.bookingCode);
    res.json(await greenflowBookingView(db, req.params.bookingCode));
  });

  return router;
}
