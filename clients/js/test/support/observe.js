/** What a client saw, and waits on it (conditions awaited as frames and states arrive, never sleeps). */

import { WebSocket } from "ws";

import { RealtimeClient } from "../../src/index.js";
import { token } from "./stack.js";

const DEFAULT_WAIT_MS = 20000;

export class Observed {
  /** @type {any[]} */ frames = [];
  /** @type {string[]} */ states = [];
  /** @type {any[]} */ errors = [];
  /** @type {any[]} */ resyncs = [];
  /** @type {number[]} close codes of the client's sockets */
  closes = [];
  /** @type {Set<() => void>} */
  #watchers = new Set();

  /** @param {RealtimeClient} client */
  attach(client) {
    client.on("*", (frame) => this.#record(this.frames, frame));
    client.on("state", (state) => this.#record(this.states, state));
    client.on("error", (error) => this.#record(this.errors, error));
    client.on("resync_required", (data) => this.#record(this.resyncs, data));
    return this;
  }

  get ids() {
    return this.frames.filter((frame) => frame.id).map((frame) => frame.id);
  }

  /** A WebSocket class (the ws package's) whose sockets report their close codes here. */
  get WebSocket() {
    const observed = this;
    return class extends WebSocket {
      constructor(/** @type {string} */ url) {
        super(url);
        this.addEventListener("close", (event) => observed.#record(observed.closes, event.code));
      }
    };
  }

  /**
   * Resolves once `condition()` holds (checked now and after everything the client reports).
   * @param {() => boolean} condition
   * @param {string} what
   */
  until(condition, what, timeoutMs = DEFAULT_WAIT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#watchers.delete(check);
        resolve(undefined);
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(check);
        reject(new Error(`not within ${timeoutMs} ms: ${what} (ids ${this.ids.join(",")}; states ${this.states})`));
      }, timeoutMs);
      this.#watchers.add(check);
      check();
    });
  }

  /** @param {string[]} ids */
  untilIds(ids) {
    return this.until(() => ids.every((id) => this.ids.includes(id)), `events ${ids.join(",")}`);
  }

  /** @param {any[]} list @param {unknown} value */
  #record(list, value) {
    list.push(value);
    for (const watcher of [...this.#watchers]) watcher();
  }
}

/**
 * A connected client of the gateway over the ws package, and what it saw.
 * @param {import("./stack.js").Gateway} gateway
 * @param {string} tenant
 * @param {Partial<import("../../src/index.d.ts").RealtimeClientOptions> & {user?: string}} [options]
 */
export async function connectClient(gateway, tenant, { user = "user-1", ...options } = {}) {
  const observed = new Observed();
  const client = new RealtimeClient({
    url: gateway.wsUrl,
    token: () => token(tenant, user),
    WebSocket: observed.WebSocket,
    backoff: { initialMs: 50, maxMs: 500 },
    ...options,
  });
  observed.attach(client);
  const authenticated = await client.connect();
  return { client, observed, authenticated };
}
