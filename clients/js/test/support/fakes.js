/** Stand-ins for unit tests: a manual clock for the client's timers, and WebSockets a test plays the server of. */

import { RealtimeClient } from "../../src/index.js";

/** Timers that run only when the test advances the clock. */
export class ManualTimers {
  now = 0;
  #nextHandle = 1;
  /** @type {{handle: number, at: number, callback: () => void}[]} */
  #due = [];

  setTimeout = (/** @type {() => void} */ callback, /** @type {number} */ ms) => {
    const handle = this.#nextHandle++;
    this.#due.push({ handle, at: this.now + ms, callback });
    return handle;
  };

  clearTimeout = (/** @type {number} */ handle) => {
    this.#due = this.#due.filter((timer) => timer.handle !== handle);
  };

  /** Delays of the timers still to run, from now. */
  pending() {
    return this.#due.map((timer) => timer.at - this.now).sort((a, b) => a - b);
  }

  /** Run every timer due within `ms`, in order, letting the promises each one starts settle. */
  async advance(/** @type {number} */ ms) {
    const until = this.now + ms;
    for (;;) {
      await settle();
      const next = this.#due.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#due = this.#due.filter((timer) => timer !== next);
      this.now = next.at;
      next.callback();
    }
    this.now = until;
    await settle();
  }
}

/** Let pending promise callbacks run. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Sockets the client opens; the test answers as the service would. */
export class FakeService {
  /** @type {FakeSocket[]} */
  sockets = [];
  WebSocket;

  constructor() {
    const service = this;
    this.WebSocket = class extends FakeSocket {
      constructor(/** @type {string} */ url) {
        super(url);
        service.sockets.push(this);
      }
    };
  }

  get last() {
    return this.sockets.at(-1);
  }
}

export class FakeSocket {
  /** @type {any} */ onopen = null;
  /** @type {any} */ onmessage = null;
  /** @type {any} */ onclose = null;
  /** @type {any} */ onerror = null;
  /** @type {Record<string, any>[]} */
  sent = [];
  closedByClient = false;

  constructor(/** @type {string} */ url) {
    this.url = url;
  }

  send(/** @type {string} */ text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.closedByClient = true;
  }

  // --- the service's side ---

  open() {
    this.onopen?.({});
  }

  /** @param {unknown} frame an object (sent as JSON) or raw data */
  deliver(frame) {
    this.onmessage?.({ data: typeof frame === "object" && frame !== null ? JSON.stringify(frame) : frame });
  }

  drop(code = 1006) {
    this.onclose?.({ code });
  }

  /** The frames sent with this action. */
  sentActions(/** @type {string} */ action) {
    return this.sent.filter((frame) => frame.action === action);
  }

  get hello() {
    return this.sentActions("hello").at(-1);
  }

  authenticate(data = {}) {
    this.deliver({
      event: "authenticated",
      requestId: this.hello.requestId,
      data: { connectionId: "c", tenantId: "t1", userId: "u1", heartbeatIntervalMs: 30000, subscriptions: [], ...data },
    });
  }
}

/** A logged service event. */
export function event(id, name = "call_incoming", data = {}) {
  return { id, event: name, tenantId: "t1", occurredAt: "2026-11-27T10:00:00.000Z", data };
}

/**
 * A client over fake sockets and manual timers; `random` defaults to just under 1 (the longest jittered delay).
 * @param {Partial<import("../../src/index.d.ts").RealtimeClientOptions>} [options]
 */
export function fakeClient(options = {}) {
  const service = new FakeService();
  const timers = new ManualTimers();
  const tokens = { issued: 0 };
  const client = new RealtimeClient({
    url: "ws://gateway.test/dev",
    token: async () => `token-${++tokens.issued}`,
    WebSocket: service.WebSocket,
    timers,
    random: () => 0.999,
    ...options,
  });
  /** @type {any[]} */
  const received = [];
  client.on("*", (frame) => received.push(frame));
  /** @type {string[]} */
  const states = [];
  client.on("state", (state) => states.push(state));
  /** @type {any[]} */
  const errors = [];
  client.on("error", (error) => errors.push(error));
  return { client, service, timers, tokens, received, states, errors };
}

/** Open the next socket and answer its hello. */
export async function openNext(service, timers, authenticated = {}) {
  await settle();
  const socket = service.last;
  socket.open();
  socket.authenticate(authenticated);
  await settle();
  return socket;
}

/** Connect a fake client: its first socket opened and authenticated. */
export async function connected(options = {}, authenticated = {}) {
  const harness = fakeClient(options);
  const ready = harness.client.connect();
  const socket = await openNext(harness.service, harness.timers, authenticated);
  await ready;
  return { ...harness, socket };
}
