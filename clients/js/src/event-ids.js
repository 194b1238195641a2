/** Event ids are the log's stream ids, `<ms>-<seq>`, ordered per tenant by both parts as integers. */

const EVENT_ID = /^(\d{1,20})-(\d{1,20})$/;

/**
 * @param {unknown} value
 * @returns {value is string}
 */
export function isEventId(value) {
  return typeof value === "string" && EVENT_ID.test(value);
}

/**
 * @param {string} a
 * @param {string} b
 * @returns {number} negative, zero or positive, as a sorts before, with or after b
 */
export function compareEventIds(a, b) {
  const [aMs, aSeq] = a.split("-").map(BigInt);
  const [bMs, bSeq] = b.split("-").map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}
