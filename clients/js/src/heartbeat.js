/** A ping that stays unanswered this many intervals means the socket is dead. */
const MISSED_INTERVALS = 2;

/**
 * Pings every interval; calls `onDead` once a ping has gone unanswered for two intervals.
 */
export class Heartbeat {
  #timer = /** @type {unknown} */ (null);
  #unanswered = 0;

  /**
   * @param {import("./pending-actions.js").Timers} timers
   * @param {() => void} sendPing
   * @param {() => void} onDead
   */
  constructor(timers, sendPing, onDead) {
    this.timers = timers;
    this.sendPing = sendPing;
    this.onDead = onDead;
  }

  /** @param {number} intervalMs */
  start(intervalMs) {
    this.stop();
    const tick = () => {
      if (this.#unanswered >= MISSED_INTERVALS) {
        this.stop();
        this.onDead();
        return;
      }
      this.#unanswered += 1;
      this.sendPing();
      this.#timer = this.timers.setTimeout(tick, intervalMs);
    };
    this.#timer = this.timers.setTimeout(tick, intervalMs);
  }

  answered() {
    this.#unanswered = 0;
  }

  stop() {
    if (this.#timer !== null) this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#unanswered = 0;
  }
}
