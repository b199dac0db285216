// Which providers the configuration turns on, and how each one stands (health and the console show it).
import type { Config } from "./env.js";

export const providerEnabled = {
  floviLookups: (c: Config) => c.FLOVI_API_KEY !== undefined,
  mfb: (c: Config) => c.MFB_LOGIN !== undefined && c.MFB_PASSWORD !== undefined,
  greenflow: (c: Config) => c.GREENFLOW_API_KEY !== undefined,
};

export interface ProviderStatus {
  provider: "mfb" | "greenflow" | "flovi-api";
  enabled: boolean;
  /** Why it is off, in words an operator can act on. */
  why: string | null;
}

/** Which providers this process polls (or looks up), and why not. */
export function providerStatus(c: Config): ProviderStatus[] {
  return [
    { provider: "mfb", enabled: providerEnabled.mfb(c), why: providerEnabled.mfb(c) ? null : "MFB_LOGIN and MFB_PASSWORD are not both set" },
    { provider: "greenflow", enabled: providerEnabled.greenflow(c), why: providerEnabled.greenflow(c) ? null : "GREENFLOW_API_KEY is not set" },
    {
      provider: "flovi-api",
      enabled: providerEnabled.floviLookups(c),
      why: providerEnabled.floviLookups(c) ? null : "FLOVI_API_KEY is not set (reconciliation off)",
    },
  ];
}

/** The migration runner needs only the database: Postgres itself (DATABASE_DIRECT_URL) when a pooler is in front. */
