// Flovi's money in the one shape events use (src/domain/money.ts). The Partner API documents
// `price` (decimal currency units), `currency` and `priceBreakdown` items ({ type, amount, label }); the
// webhook's cost fields are undocumented, so they are read as the payload parser collected them: a total from
// `finalCosts` (a number, or an object with price/amount/total), `finalPrice`, `totalCosts`, `totalCost` or
// `price`, a currency beside it or at the top, a breakdown beside it or at the top.
import { pricedWithBreakdown, type Priced } from "../../domain/money.js";

const TOTAL_KEYS = ["finalCosts", "finalPrice", "totalCosts", "totalCost", "price"] as const;
const NESTED_TOTAL = ["price", "amount", "total", "totalPrice", "value"] as const;

const asObject = (value: unknown): Record<string, unknown> | null =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

/** The webhook's final costs as money, or null when no total with a currency can be read (the raw fields are kept). */
export function floviCosts(costs: Record<string, unknown> | null): Priced | null {
  if (!costs) return null;
  for (const key of TOTAL_KEYS) {
    const value = costs[key];
    if (value === undefined || value === null) continue;
    const nested = asObject(value);
    const amount = nested ? NESTED_TOTAL.map((k) => nested[k]).find((v) => v !== undefined && v !== null) : value;
    const currency = nested?.currency ?? costs.currency;
    const breakdown = nested?.priceBreakdown ?? nested?.breakdown ?? costs.priceBreakdown;
    const priced = pricedWithBreakdown(amount, currency, breakdown);
    if (priced) return priced;
  }
  return null;
}

/** The Partner API's price of a reservation (its billed price), as money with its breakdown. */
export function floviApiPrice(found: { price?: number; currency?: string; priceBreakdown?: unknown[] }): Priced | null {
  return found.price === undefined ? null : pricedWithBreakdown(found.price, found.currency, found.priceBreakdown);
}
