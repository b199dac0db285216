import { describe, expect, it } from "vitest";
import { mfbMoney, minorUnitDigits, money, pricedWithBreakdown } from "../../src/domain/money.js";

describe("money, one shape", () => {
  it("amountMinor is in the currency's own minor units: two, zero and three decimals", () => {
    expect(money(154.2, "EUR")).toEqual({ amount: 154.2, currency: "EUR", amountMinor: 15420 });
    expect(money(154, "JPY")).toEqual({ amount: 154, currency: "JPY", amountMinor: 154 });
    expect(money(154.2, "KWD")).toEqual({ amount: 154.2, currency: "KWD", amountMinor: 154200 });
    expect([minorUnitDigits("EUR"), minorUnitDigits("JPY"), minorUnitDigits("BHD")]).toEqual([2, 0, 3]);
  });

  it("rounds on the decimal value, not its binary fraction; reads numeric strings and lower-case codes", () => {
    // 0.29 * 100 is 28.999999999999996 in binary floating point.
    expect(money(0.29, "EUR")!.amountMinor).toBe(29);
    expect(money(1.005, "EUR")!.amountMinor).toBe(101);
    expect(money("19.99", "usd")).toEqual({ amount: 19.99, currency: "USD", amountMinor: 1999 });
  });

  it("is null without a usable amount or currency", () => {
    expect(money(10, null)).toBeNull();
    expect(money(10, "EURO")).toBeNull();
    expect(money("ten", "EUR")).toBeNull();
    expect(money(Number.NaN, "EUR")).toBeNull();
  });

  it("MFB: integer cents win, as MFB advises", () => {
    expect(mfbMoney({ formatted: "€351.24", currency: "EUR", amount: 351.24, amount_in_cents: 35124 })).toEqual({
      amount: 351.24,
      currency: "EUR",
      amountMinor: 35124,
    });
    expect(mfbMoney({ currency: "EUR", amount_in_cents: 5650 })).toEqual({ amount: 56.5, currency: "EUR", amountMinor: 5650 });
    expect(mfbMoney(null)).toBeNull();
  });

  it("a breakdown's items take the total's currency unless they name their own", () => {
    expect(pricedWithBreakdown(10, "EUR", [{ type: "a", amount: 4, label: "A" }, { amount: 6, currency: "USD" }, "junk"])).toEqual({
      amount: 10,
      currency: "EUR",
      amountMinor: 1000,
      breakdown: [
        { type: "a", label: "A", amount: 4, currency: "EUR", amountMinor: 400 },
        { type: null, label: null, amount: 6, currency: "USD", amountMinor: 600 },
      ],
    });
  });
});
