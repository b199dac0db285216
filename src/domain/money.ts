// Money, one shape wherever it appears in an event: `{ amount, currency, amountMinor }`. `amount` is in
// currency units as the provider gave it; `amountMinor` is an integer in the currency's minor units (cents
// for EUR, yen for JPY, fils for KWD), which is what to add up and compare.
import { z } from "zod";

export const moneySchema = z.strictObject({
  amount: z.number().describe("in currency units, as the provider gave it (154.2)"),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .describe("ISO 4217 code"),
  amountMinor: z.number().int().describe("in the currency's minor units: 15420 for 154.20 EUR, 154 for 154 JPY, 154200 for 154.2 KWD"),
});

export type Money = z.infer<typeof moneySchema>;

const minorDigits = new Map<string, number>();

/** Decimal places of the currency's minor unit (ISO 4217, as the runtime's Intl data knows it). */
export function minorUnitDigits(currency: string): number {
  let digits = minorDigits.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    minorDigits.set(currency, digits);
  }
  return digits;
}

/**
 * Money from an amount and a currency, or null when either is unusable (a missing or malformed currency,
 * an amount that is not a finite number). Numeric strings ("154.20") are read as numbers.
 */
export function money(amount: unknown, currency: unknown): Money | null {
  const value = typeof amount === "string" && amount.trim() !== "" ? Number(amount) : amount;
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  if (typeof currency !== "string" || !/^[A-Za-z]{3}$/.test(currency.trim())) return null;
  const code = currency.trim().toUpperCase();
  // Rounded on the decimal string, not on the binary fraction (154.2 * 100 is 15419.999…).
  const amountMinor = Number(Math.round(Number(`${value}e${minorUnitDigits(code)}`)));
  return { amount: value, currency: code, amountMinor };
}

/** MFB's price hash ({ currency, amount, amount_in_cents, formatted }): its integer cents win, as MFB advises. */
export function mfbMoney(price: unknown): Money | null {
  if (typeof price !== "object" || price === null) return null;
  const p = price as { amount?: unknown; currency?: unknown; amount_in_cents?: unknown };
  const formed = money(p.amount, p.currency);
  if (formed && typeof p.amount_in_cents === "number" && Number.isInteger(p.amount_in_cents) && minorUnitDigits(formed.currency) === 2) {
    return { ...formed, amountMinor: p.amount_in_cents };
  }
  if (!formed && typeof p.amount_in_cents === "number" && typeof p.currency === "string") return money(p.amount_in_cents / 100, p.currency);
  return formed;
}

const priceItemSchema = moneySchema.extend({
  type: z.string().nullable().describe("the provider's kind of component (base, fuel, …)"),
  label: z.string().nullable().describe("the provider's words for it"),
});

/** A price with its breakdown (Flovi's priceBreakdown items: { type, amount, label }, in the price's currency). */
export const pricedSchema = moneySchema.extend({
  breakdown: z.array(priceItemSchema).describe("the components, each in the same currency"),
});
export type Priced = z.infer<typeof pricedSchema>;

export function pricedWithBreakdown(amount: unknown, currency: unknown, breakdown: unknown): Priced | null {
  const total = money(amount, currency);
  if (!total) return null;
  const items = Array.isArray(breakdown) ? breakdown : [];
  return {
    ...total,
    breakdown: items.flatMap((item) => {
      if (typeof item !== "object" || item === null) return [];
      const i = item as { type?: unknown; label?: unknown; amount?: unknown; price?: unknown; currency?: unknown };
      const part = money(i.amount ?? i.price, i.currency ?? total.currency);
      return part ? [{ ...part, type: typeof i.type === "string" ? i.type : null, label: typeof i.label === "string" ? i.label : null }] : [];
    }),
  };
}
