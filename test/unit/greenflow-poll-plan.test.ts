// The pure half of a GreenFlow poll: which answers are news, what the event says, and when to look again.
import { describe, expect, it } from "vitest";
import type { LockedBooking } from "../../src/db/greenflow-polls.js";
import { planBookingPoll } from "../../src/pipeline/polling/greenflow-poll-plan.js";
import type { GreenflowBookingData } from "../../src/providers/greenflow/client.js";

const settings = { intervalMs: 60_000, pauseMs: 300_000, ceilingMs: 3_600_000, staleAfterMs: Number.POSITIVE_INFINITY };
const now = new Date("2026-05-15T12:00:00.000Z");
const row = (over: Partial<LockedBooking> = {}): LockedBooking => ({
  status: "reserved",
  gds_status: "HK",
  sequence: 1,
  active: true,
  quiet_polls: 0,
  ...over,
});
const answer = (over: Partial<GreenflowBookingData> = {}): GreenflowBookingData => ({
  booking_code: "BR-1",
  local_number: "GFC1",
  status: "RESERVED",
  pickup_date: "2026-05-16 10:00:00",
  dropoff_date: "2026-05-18 10:00:00",
  gds: { status: "HK" },
  ...over,
});
const plan = (r: LockedBooking, d: GreenflowBookingData) => planBookingPoll({ row: r, data: d, timeZone: "America/Sao_Paulo", settings, now });
const delayOf = (p: ReturnType<typeof plan>) => (p.poll.nextPollAt ? p.poll.nextPollAt.getTime() - now.getTime() : null);

describe("planBookingPoll", () => {
  it("a new status is one event, one sequence up, with the local times read in the booking's zone", () => {
    const p = plan(row(), answer({ status: "Picked_Up" }));
    expect(p.event).toMatchObject({
      entity: "rental",
      entityId: "BR-1",
      externalId: "GFC1",
      type: "picked_up",
      previousStatus: "reserved",
      providerStatus: "Picked_Up",
      sequence: 2,
      timeSource: "hub",
      details: { changed: "status", pickupDate: "2026-05-16 10:00:00", pickupAt: "2026-05-16T13:00:00.000Z", timeZone: "America/Sao_Paulo" },
      dedupeKey: "greenflow:BR-1:2:picked_up:HK",
    });
    expect(p.poll).toMatchObject({ status: "picked_up", sequence: 2, quietPolls: 0, stoppedReason: null });
    expect(p.outcome).toEqual({ kind: "polled", newEvents: 1, status: "picked_up", final: false, undocumented: false });
  });

  it("the same answer again is no event, and each quiet poll waits longer, up to the ceiling", () => {
    const first = plan(row(), answer());
    expect(first.event).toBeNull();
    expect(first.poll.quietPolls).toBe(1);
    const later = plan(row({ quiet_polls: 30 }), answer());
    expect(delayOf(later)).toBeGreaterThan(delayOf(first)!);
    // Up to the ceiling, give or take the 10% jitter every poll time has (many workers must not poll in step).
    expect(delayOf(later)).toBeLessThanOrEqual(settings.ceilingMs * 1.1);
    expect(delayOf(later)).toBeGreaterThanOrEqual(settings.ceilingMs * 0.9);
  });

  it("a change of the GDS status alone is news too", () => {
    const p = plan(row(), answer({ gds: { status: "UN" } }));
    expect(p.event).toMatchObject({ type: "reserved", sequence: 2, details: { changed: "gds_status", gdsStatus: "UN", previousGdsStatus: "HK" } });
  });

  it("a final status stops polling, with the status as the reason", () => {
    const p = plan(row({ status: "picked_up" }), answer({ status: "RETURNED" }));
    expect(p.poll).toMatchObject({ nextPollAt: null, stoppedReason: "returned" });
    expect(p.outcome.final).toBe(true);
  });

  it("a status nobody documented is kept and said so, and polled with backoff", () => {
    const p = plan(row(), answer({ status: "TELEPORTED" }));
    expect(p.event).toMatchObject({ type: "teleported", details: { undocumentedStatus: true } });
    expect(p.poll).toMatchObject({ unknownStatus: true, quietPolls: 1 });
    expect(p.outcome.undocumented).toBe(true);
  });
});
