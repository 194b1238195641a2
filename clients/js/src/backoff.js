/**
 * Full jitter: a delay drawn uniformly from [0, min(maxMs, initialMs · 2^attempt)), so clients dropped together
 * (a deploy, a gateway restart) spread their reconnects instead of stampeding.
 *
 * @param {number} attempt 0 for the first retry
 * @param {{initialMs: number, maxMs: number}} backoff
 * @param {() => number} random uniform in [0, 1)
 * @returns {number} milliseconds
 */
export function fullJitterDelay(attempt, { initialMs, maxMs }, random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 32));
  return Math.floor(random() * ceiling);
}
