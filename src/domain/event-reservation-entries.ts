// The event catalog's entries for reservation states, one per state Flovi reports (./event-catalog-entries.ts
// lists them first).
import { z } from "zod";
import { RESERVATION_STATES } from "./reservation.js";
import { apiFacts, reservationPrevious } from "./event-examples.js";
import { type CatalogEntry, either, envelope, finalCostsDetails, reservationDetails } from "./event-schemas.js";

const RESERVATION_TIME =
  "Flovi's time of the change when the webhook carried a usable one (`timeSource: provider`); otherwise when the hub received it or, for states " +
  "learnt from the Partner API, when it looked them up (`timeSource: hub`)";
export const reservationEntries: CatalogEntry[] = RESERVATION_STATES.map((state) => ({
  type: `reservation.${state}`,
  entity: "reservation",
  when:
    state === "final_costs"
      ? "Flovi reported the final costs (about two weeks after `sealed`). `details.finalCosts` is the money."
      : state === "cancelled"
        ? "Flovi cancelled the reservation. `details.cancellationReason` says why (null when Flovi gave no reason; a later `reservation.updated` brings it)."
        : `Flovi reported the state \`${state}\` (from a webhook, or from the Partner API when a webhook was missed).`,
  time: RESERVATION_TIME,
  schema: envelope("reservation", `reservation.${state}`, z.literal(state), state === "final_costs" ? finalCostsDetails : reservationDetails, either),
  exampleDetails:
    state === "final_costs"
      ? {
          ...apiFacts,
          finalCosts: {
            amount: 154.2,
            currency: "EUR",
            amountMinor: 15420,
            breakdown: [
              { type: "base", label: "Base price", amount: 120, currency: "EUR", amountMinor: 12000 },
              { type: "fuel", label: "Fuel", amount: 34.2, currency: "EUR", amountMinor: 3420 },
            ],
          },
        }
      : state === "cancelled"
        ? { ...apiFacts, cancellationReason: "customer_cancelled" }
        : apiFacts,
  exampleStatus: state,
  examplePrevious: reservationPrevious[state] ?? null,
  exampleTimeSource: "provider",
}));
