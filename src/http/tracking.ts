// Registering, reading and stopping tracked MFB orders and GreenFlow bookings.
import { Router } from "express";
import { z } from "zod";
import { isTimeZone } from "../lib/time-zone.js";
import type { AppDeps } from "./deps.js";
import { greenflowBookingView, mfbOrderView, pollingWarning, registerGreenflowBooking, registerMfbOrder, stopByOperator } from "../services/tracking.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

const mfbInput = z.object({
  orderId: z.uuid({ error: "orderId must be the MFB order's UUID, such as eb27ff8e-b353-4a3f-8e7e-69576e64ee1a" }),
  reference: z.string().trim().min(1).max(200).optional(),
});

/** GreenFlow accepts its booking_code (BR-1234567) or its local_number (GFC042389XY) as {code}. */
const bookingCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/, "bookingCode must be a GreenFlow booking_code or local_number");
/** An IANA zone name the runtime knows (Europe/Lisbon, America/Sao_Paulo, UTC). */
const timeZone = z.string().trim().min(1).max(64).refine(isTimeZone, "timeZone must be an IANA time zone name, such as Europe/Lisbon");
const greenflowInput = z.object({ bookingCode, lastname: z.string().trim().min(1).max(100), timeZone: timeZone.optional() });

export function trackingRoutes(deps: Pick<AppDeps, "db" | "log" | "config" | "queues">): Router {
  const router = Router();
  const { db } = deps;
  const actor = (req: { actor?: string }) => req.actor ?? "admin";

  router.post("/tracking/mfb-orders", async (req, res) => {
    const { created, view } = await registerMfbOrder(deps, parseInput(mfbInput, req.body));
    res.status(created ? 201 : 200).json({ ...view, ...pollingWarning(deps.config, "mfb") });
  });

  router.get("/tracking/mfb-orders/:orderId", async (req, res) => {
    const view = z.uuid().safeParse(req.params.orderId).success ? await mfbOrderView(db, req.params.orderId) : null;
    if (!view) throw new HttpError(404, "mfb_order_not_tracked", `MFB order ${req.params.orderId} is not tracked`);
    res.json(view);
  });

  router.delete("/tracking/mfb-orders/:orderId", async (req, res) => {
    const known = z.uuid().safeParse(req.params.orderId).success && (await stopByOperator(deps, actor(req), "mfb", req.params.orderId)) !== null;
    if (!known) throw new HttpError(404, "mfb_order_not_tracked", `MFB order ${req.params.orderId} is not tracked`);
    res.json(await mfbOrderView(db, req.params.orderId));
  });

  router.post("/tracking/greenflow-bookings", async (req, res) => {
    const { created, view } = await registerGreenflowBooking(deps, parseInput(greenflowInput, req.body));
    res.status(created ? 201 : 200).json({ ...view, ...pollingWarning(deps.config, "greenflow") });
  });

  router.get("/tracking/greenflow-bookings/:bookingCode", async (req, res) => {
    const view = await greenflowBookingView(db, req.params.bookingCode);
    if (!view) throw new HttpError(404, "greenflow_booking_not_tracked", `GreenFlow booking ${req.params.bookingCode} is not tracked`);
    res.json(view);
  });

  router.delete("/tracking/greenflow-bookings/:bookingCode", async (req, res) => {
    const key = await stopByOperator(deps, actor(req), "greenflow", req.params.bookingCode);
    if (key === null) throw new HttpError(404, "greenflow_booking_not_tracked", `GreenFlow booking ${req.params.bookingCode} is not tracked`);
    res.json(await greenflowBookingView(db, key));
  });

  return router;
}
