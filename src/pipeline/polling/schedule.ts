// When to poll next: pure arithmetic over the interval, quiet polls, failures and jitter.

/** Quiet polls tolerated before the wait starts to grow: an item that moves every few polls keeps its pace. */
const QUIET_GRACE = 2;

/**
 * When to poll next: the interval (a third of it while the item is moving); after QUIET_GRACE polls in a row
 * that brought nothing new, doubled per further quiet poll, up to `ceilingMs`; doubled per consecutive
 * failure up to 16×; with ±10% jitter so items registered together spread out.
 */
export function nextPollDelayMs(
  intervalMs: number,
  opts: { failures?: number; moving?: boolean; quiet?: number; ceilingMs?: number },
  random = Math.random,
): number {
  const base = opts.moving ? intervalMs / 3 : intervalMs;
  const doublings = Math.min(Math.max(0, (opts.quiet ?? 0) - QUIET_GRACE), 20);
  const patient = opts.ceilingMs === undefined ? base : Math.min(base * 2 ** doublings, Math.max(opts.ceilingMs, base));
  const backoff = 2 ** Math.min(opts.failures ?? 0, 4);
  return Math.round(patient * backoff * (0.9 + 0.2 * random()));
}
