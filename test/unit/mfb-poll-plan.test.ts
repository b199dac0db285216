import { describe, expect, it } from "vitest";
import { planTrackingPoll, type FreshEvent } from "../../src/pipeline/polling/mfb-poll-plan.js";

const settings = { intervalMs: 60_000, pauseMs: 0, ceilingMs: 3_600_000, staleAfterMs: 7 * 86_400_000 };
const now = new Date("2026-03-01T12:00:00Z");
const order = (over: Partial<Parameters<typeof planTrackingPoll>[0]["order"]> = {}) => ({
  status: null,
  sequence: 0,
  active: true,
  reference: "PO-1",
  parcel_count: 2,
  carrier: "UPS",
  product: null,
  quiet_polls: 0,
  last_movement_at: null,
  created_at: new Date("2026-03-01T00:00:00Z"),
  ...over,
});
const event = (parcelIndex: number, code: string, at: string): FreshEvent => ({
  parcelIndex,
  code,
  happenedAt: new Date(at),
  happenedAtRaw: at,
  label: { en: code },
  fingerprint: `${code}-fp`,
});
const stored = (events: FreshEvent[]) => events.map((e) => ({ parcel_index: e.parcelIndex, code: e.code, happened_at: e.happenedAt }));

describe("one MFB poll, planned", () => {
  it("new carrier events in time order, then the folded status; the order is delivered only when every parcel is", () => {
    const fresh = [event(1, "delivered", "2026-03-01T10:00:00Z"), event(0, "delivered", "2026-03-01T09:00:00Z")];
    const plan = planTrackingPoll({ orderId: "o", order: order({ status: "out_for_delivery", sequence: 4 }), fresh, stored: stored(fresh), settings, now });
    expect(plan.events.map((e) => [e.type, e.sequence, e.providerStatus])).toEqual([
      ["tracking_event", 5, "delivered"],
      ["tracking_event", 6, "delivered"],
      ["delivered", 7, "delivered"],
    ]);
    expect(plan.events[0]!.details).toMatchObject({ parcelIndex: 0, carrier: "UPS" });
    expect(plan.order).toMatchObject({ status: "delivered", sequence: 7, active: false, stoppedReason: "delivered", nextPollAt: null });
    expect(plan.outcome).toEqual({ kind: "polled", newEvents: 3, status: "delivered", final: true });

    const half = planTrackingPoll({
      orderId: "o",
      order: order({ status: "out_for_delivery", sequence: 4 }),
      fresh: fresh.slice(1),
      stored: stored(fresh.slice(1)),
      settings,
      now,
    });
    expect(half.order).toMatchObject({ active: true, stoppedReason: null });
    expect(half.outcome).toMatchObject({ final: false });
  });

  it("nothing new: no event, one more quiet poll; nothing new for longer than staleAfterMs stops the order", () => {
    const quiet = planTrackingPoll({
      orderId: "o",
      order: order({ status: "in_transit", sequence: 3, quiet_polls: 1, last_movement_at: new Date("2026-02-28T12:00:00Z") }),
      fresh: [],
      stored: [],
      settings,
      now,
    });
    expect(quiet.events).toEqual([]);
    expect(quiet.order).toMatchObject({ quietPolls: 2, active: true, stoppedReason: null });
    const stale = planTrackingPoll({
      orderId: "o",
      order: order({ status: "in_transit", last_movement_at: new Date("2026-02-20T12:00:00Z") }),
      fresh: [],
      stored: [],
      settings,
      now,
    });
    expect(stale.order).toMatchObject({ active: false, stoppedReason: "no_movement", nextPollAt: null, sequence: 1 });
    expect(stale.outcome).toEqual({ kind: "stopped", reason: "no_movement", newEvents: 1 });
    // Subscribers hear it: one shipment.tracking_stopped, the status it was left in, the reason as a word.
    expect(stale.events).toHaveLength(1);
    expect(stale.events[0]).toMatchObject({
      type: "tracking_stopped",
      status: "in_transit",
      previousStatus: "in_transit",
      phase: "in_transit",
      sequence: 1,
      timeSource: "hub",
    });
    expect(stale.events[0]!.details).toMatchObject({ reason: "no_movement", carrier: "UPS" });
  });
});
