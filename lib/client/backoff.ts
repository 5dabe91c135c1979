/**
 * Reconnect delays: exponential backoff with full jitter, so many consoles cut by the same
 * outage do not come back in lockstep.
 * @module
 */

/**
 * The delay before retry number `attempt` (1-based): a uniform pick in
 * `[0, min(maxMs, baseMs · 2^(attempt-1)))`, rounded to whole milliseconds.
 * `random` returns a number in `[0, 1)` (`Math.random` by default; injectable for tests).
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}
