const HOUR = 3_600_000;

/**
 * Delay before the attempt after `attempt` (1-based): the schedule's next step with ±10% jitter. A
 * receiver's Retry-After (on 429/503) replaces the step: at least one second, at most the longer of the
 * schedule's longest step and one hour (a receiver cannot park a delivery for days).
 */
export function retryDelayMs(schedule: readonly number[], attempt: number, retryAfterMs: number | null, random = Math.random): number {
  if (retryAfterMs !== null) return Math.min(Math.max(retryAfterMs, 1_000), Math.max(...schedule, HOUR));
  const step = schedule[Math.min(attempt, schedule.length - 1)] ?? 0;
  return Math.round(step * (0.9 + 0.2 * random()));
}
