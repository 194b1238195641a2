import { RealtimeError } from "./errors.js";

/** The first send and the resend after a reconnect, both with the same requestId. */
const MAX_SENDS = 2;

/**
 * @typedef {object} Timers
 * @property {(callback: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: any) => void} clearTimeout
 */

/**
 * @typedef {object} PendingAction
 * @property {string} text the frame as sent
 * @property {number} sends
 * @property {boolean} sent on the current connection
 * @property {(reply: Record<string, any>) => void} resolve
 * @property {(error: RealtimeError) => void} reject
 * @property {unknown} timer
 */

/**
 * Actions awaiting their reply, by requestId. One sent on a connection that then went away is sent again on
 * the next one (same requestId, so upstream sees the same Idempotency-Key); if that one goes away too before
 * the reply, it fails with `disconnected`.
 */
export class PendingActions {
  /** @type {Map<string, PendingAction>} */
  #byId = new Map();

  /** @param {Timers} timers */
  constructor(timers) {
    this.timers = timers;
  }

  /**
   * @param {string} requestId
   * @param {string} text
   * @param {number} timeoutMs
   * @returns {Promise<Record<string, any>>} the reply frame
   */
  add(requestId, text, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.#byId.delete(requestId);
        reject(new RealtimeError("timeout", `no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#byId.set(requestId, { text, sends: 0, sent: false, resolve, reject, timer });
    });
  }

  /**
   * Settle the action this reply answers.
   * @param {Record<string, any>} reply
   * @returns {boolean} whether it answered one
   */
  settle(reply) {
    const action = this.#take(reply.requestId);
    if (!action) return false;
    action.resolve(reply);
    return true;
  }

  /**
   * The actions to send on a connection that just opened, counted as sent.
   * @returns {string[]}
   */
  drainUnsent() {
    const texts = [];
    for (const action of this.#byId.values()) {
      if (action.sent) continue;
      action.sent = true;
      action.sends += 1;
      texts.push(action.text);
    }
    return texts;
  }

  connectionLost() {
    for (const [requestId, action] of this.#byId) {
      if (!action.sent) continue;
      if (action.sends >= MAX_SENDS) {
        this.#take(requestId);
        action.reject(new RealtimeError("disconnected", "the connection was lost twice before a reply"));
      } else {
        action.sent = false;
      }
    }
  }

  /** @param {RealtimeError} error */
  rejectAll(error) {
    for (const requestId of [...this.#byId.keys()]) this.#take(requestId)?.reject(error);
  }

  /** @param {unknown} requestId */
  #take(requestId) {
    if (typeof requestId !== "string") return undefined;
    const action = this.#byId.get(requestId);
    if (!action) return undefined;
    this.#byId.delete(requestId);
    this.timers.clearTimeout(action.timer);
    return action;
  }
}
