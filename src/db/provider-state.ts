// Provider-wide state: a pause after the provider refused our credentials (401) or rate-limited a run (429).
import type { Database } from "./client.js";
import type { Sql } from "./sql.js";
import { prismaOf } from "./clients.js";

export async function providerPausedUntil(db: Database, provider: string): Promise<Date | null> {
  const state = await prismaOf(db).providerState.findUnique({ where: { provider } });
  return state?.pausedUntil && state.pausedUntil > new Date() ? state.pausedUntil : null;
}

export async function pauseProvider(db: Database, provider: string, untilMs: number, reason: string): Promise<Date> {
  const pausedUntil = new Date(Date.now() + untilMs);
  await prismaOf(db).providerState.upsert({
    where: { provider },
    create: { provider, pausedUntil, pauseReason: reason },
    update: { pausedUntil, pauseReason: reason },
  });
  return pausedUntil;
}

/** Ends a pause, in the caller's transaction; returns when the pause would have ended (null: none). */
export async function clearPause(sql: Sql, provider: string): Promise<Date | null> {
  const [before] = await sql.query<{ paused_until: Date | null }>("SELECT paused_until FROM provider_states WHERE provider = $1 FOR UPDATE", [provider]);
  await sql.query(
    `INSERT INTO provider_states (provider, paused_until, pause_reason, updated_at) VALUES ($1, NULL, NULL, now())
     ON CONFLICT (provider) DO UPDATE SET paused_until = NULL, pause_reason = NULL, updated_at = now()`,
    [provider],
  );
  return before?.paused_until ?? null;
}

export interface ProviderPause {
  provider: string;
  pausedUntil: Date | null;
  pauseReason: string | null;
}

export async function providerPauses(db: Database): Promise<ProviderPause[]> {
  const rows = await prismaOf(db).providerState.findMany();
  return rows.map((r) => ({ provider: r.provider, pausedUntil: r.pausedUntil, pauseReason: r.pauseReason }));
}
