/**
 * A failure the client reports. `code` is one of the service's error codes (`bad_request`, `forbidden`,
 * `rate_limited`, `upstream_unavailable`, …) or one of the client's own: `timeout` (no reply within
 * `actionTimeoutMs`) and `disconnected` (the connection went away, or `close()` was called, before a reply came);
 * on the `error` channel also `bad_frame`, `token_failed`, `socket_failed` and `listener_failed`.
 */
export class RealtimeError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message || code, options);
    this.name = "RealtimeError";
    /** @type {string} */
    this.code = code;
  }
}
