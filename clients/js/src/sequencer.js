import { compareEventIds } from "./event-ids.js";

const REMEMBERED_IDS = 1000;

/**
 * @typedef {{event: string, id: string, [key: string]: unknown}} LoggedFrame
 */

/**
 * Decides which logged events reach listeners, and when: each id once, replayed ones in id order.
 *
 * While a resume is under way (`hold()` until `release()`), frames are held: live events can reach the socket
 * before or among the replayed ones, and are sorted in with them. An id is delivered once: the last
 * REMEMBERED_IDS are remembered, anything older than those counts as seen. A frame older than the newest one
 * delivered but never seen (two services broadcasting at once can be overtaken on the wire) is still delivered.
 */
export class EventSequencer {
  /** @type {string | null} */
  #last = null;
  /** @type {string | null} ids at or below it were forgotten, so count as seen */
  #floor = null;
  /** @type {Set<string>} */
  #seen = new Set();
  #holding = false;
  /** @type {LoggedFrame[]} */
  #held = [];

  /** The newest id delivered: where a resume starts. */
  get lastEventId() {
    return this.#last;
  }

  get holding() {
    return this.#holding;
  }

  hold() {
    this.#holding = true;
  }

  /**
   * @param {LoggedFrame} frame
   * @returns {LoggedFrame[]} what to deliver now
   */
  accept(frame) {
    if (this.#holding) {
      this.#held.push(frame);
      return [];
    }
    return this.#admit([frame]);
  }

  /** @returns {LoggedFrame[]} the held frames to deliver, in id order */
  release() {
    const held = this.#held.sort((a, b) => compareEventIds(a.id, b.id));
    this.#held = [];
    this.#holding = false;
    return this.#admit(held);
  }

  /** The connection went away mid-resume: what was held comes again with the next replay. */
  discardHeld() {
    this.#held = [];
    this.#holding = false;
  }

  /** @param {LoggedFrame[]} frames */
  #admit(frames) {
    return frames.filter((frame) => {
      if (!this.#isNew(frame.id)) return false;
      this.#remember(frame.id);
      return true;
    });
  }

  /** @param {string} id */
  #isNew(id) {
    if (this.#seen.has(id)) return false;
    return this.#floor === null || compareEventIds(id, this.#floor) > 0;
  }

  /** @param {string} id */
  #remember(id) {
    this.#seen.add(id);
    if (this.#last === null || compareEventIds(id, this.#last) > 0) this.#last = id;
    if (this.#seen.size > REMEMBERED_IDS) {
      const [oldest] = this.#seen;
      this.#seen.delete(oldest);
      if (this.#floor === null || compareEventIds(oldest, this.#floor) > 0) this.#floor = oldest;
    }
  }
}
