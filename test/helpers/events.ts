// Events written straight into the outbox (db/outbox.ts writeEvents), as a poller or an operator action
// writes them, for tests that need the log's raw material without a provider.
import type { NewEvent } from "../../src/domain/events.js";

/** A reservation's first event (`reservation.created`, sequence 1). */
export function reservationCreated(entityId: string, dedupeKey: string, time = new Date()): NewEvent {
  return {
    entity: "reservation",
    entityId,
    type: "created",
    status: "created",
    previousStatus: null,
    providerStatus: "created",
    sequence: 1,
    time,
    timeSource: "hub",
    dedupeKey,
  };
}

/** A GreenFlow booking's `rental.confirmed` at a given sequence. */
export function rentalConfirmed(entityId: string, sequence: number, dedupeKey: string): NewEvent {
  return {
    entity: "rental",
    entityId,
    externalId: null,
    type: "confirmed",
    status: "confirmed",
    previousStatus: null,
    providerStatus: "CONFIRMED",
    sequence,
    time: new Date(),
    timeSource: "hub",
    details: {
      bookingCode: entityId,
      localNumber: null,
      gdsStatus: null,
      changed: "status",
      pickupDate: null,
      dropoffDate: null,
      pickupAt: null,
      dropoffAt: null,
      timeZone: "UTC",
    },
    dedupeKey,
  };
}
