import { fullJitterDelay } from "./backoff.js";
import { RealtimeError } from "./errors.js";
import { isEventId } from "./event-ids.js";
import { Heartbeat } from "./heartbeat.js";
import { Listeners } from "./listeners.js";
import { PendingActions } from "./pending-actions.js";
import { EventSequencer } from "./sequencer.js";

const DEFAULT_BACKOFF = Object.freeze({ initialMs: 500, maxMs: 30000 });
const DEFAULT_ACTION_TIMEOUT_MS = 10000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 30000;
/** The service's answer to a frame from a connection it has forgotten (pruned after a failed delivery). */
const UNREGISTERED = "connection is not registered";
/** Channels of the client itself: a service event of one of these names reaches only "*" listeners. */
const OWN_CHANNELS = new Set(["*", "state", "resync_required", "error"]);

/**
 * @typedef {"idle" | "connecting" | "open" | "reconnecting" | "closed"} ConnectionState
 * @typedef {Record<string, any> & {event: string}} Frame
 */

/**
 * A dashboard's connection to as-connection-service. See index.d.ts for the options and
 * docs/dashboard-client.md for the behaviour.
 */
export class RealtimeClient {
  #url;
  #token;
  #WebSocket;
  #backoff;
  #actionTimeoutMs;
  #timers;
  #random;
  #listeners = new Listeners((error, channel) => this.#onListenerError(error, channel));
  #sequencer = new EventSequencer();
  #pending;
  #heartbeat;
  /** @type {Set<string>} */
  #conversations;
  /** @type {ConnectionState} */
  #state = "idle";
  /** @type {any} */
  #socket = null;
  /** @type {string | null} */
  #helloId = null;
  /** @type {Set<string>} */
  #pings = new Set();
  #attempt = 0;
  /** @type {unknown} */
  #retryTimer = null;
  /** @type {unknown} a connection not authenticated within actionTimeoutMs is given up */
  #authenticationTimer = null;
  #everOpened = false;
  /** Whether the current connection resumes from a lastEventId (its hello carries one). */
  #resuming = false;
  #closed = false;
  /** @type {{promise: Promise<any>, resolve: (value: any) => void, reject: (error: unknown) => void} | null} */
  #ready = null;

  /** @param {import("./index.d.ts").RealtimeClientOptions} options */
  constructor(options) {
    const { url, token, conversations = [], backoff = {}, actionTimeoutMs = DEFAULT_ACTION_TIMEOUT_MS } = options ?? {};
    const WebSocketImpl = options?.WebSocket ?? globalThis.WebSocket;
    if (typeof url !== "string" || !url) throw new TypeError("url must be a ws:// or wss:// URL");
    if (typeof token !== "function") throw new TypeError("token must be a function returning the JWT");
    if (typeof WebSocketImpl !== "function") {
      throw new TypeError("no WebSocket implementation: pass one as the WebSocket option (in Node: the ws package)");
    }
    this.#url = new URL(url).toString();
    this.#token = token;
    this.#WebSocket = WebSocketImpl;
    this.#backoff = { ...DEFAULT_BACKOFF, ...backoff };
    this.#actionTimeoutMs = actionTimeoutMs;
    this.#timers = options.timers ?? globalThis;
    this.#random = options.random ?? Math.random;
    this.#conversations = new Set(conversations);
    for (const id of this.#conversations) requireId(id, "conversationId");
    this.#pending = new PendingActions(this.#timers);
    this.#heartbeat = new Heartbeat(
      this.#timers,
      () => this.#ping(),
      () => this.#abandon(),
    );
  }

  /** Id of the last event delivered to listeners (where a reconnect resumes), or null. */
  get lastEventId() {
    return this.#sequencer.lastEventId;
  }

  /** @returns {ConnectionState} */
  get state() {
    return this.#state;
  }

  /**
   * @param {string} name a service event's name, "*" for every service event, "state", "resync_required" or "error"
   * @param {(value: any) => void} listener
   * @returns {() => void} removes the listener
   */
  on(name, listener) {
    return this.#listeners.on(name, listener);
  }

  /** Connect (and keep reconnecting until `close()`); resolves with the first `authenticated` data. */
  connect() {
    if (this.#closed) return Promise.reject(new RealtimeError("disconnected", "the client is closed"));
    if (!this.#ready) {
      this.#ready = deferred();
      this.#open();
    }
    return this.#ready.promise;
  }

  /** Close for good: state "closed", no more reconnects, actions awaiting a reply fail with `disconnected`. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer !== null) this.#timers.clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#lost();
    closeQuietly(socket, 1000);
    const error = new RealtimeError("disconnected", "the client was closed");
    this.#pending.rejectAll(error);
    this.#ready?.reject(error);
    this.#setState("closed");
  }

  /**
   * @param {string} conversationId
   * @returns {Promise<Frame>} the ack
   */
  subscribe(conversationId) {
    requireId(conversationId, "conversationId");
    this.#conversations.add(conversationId);
    return this.#request("subscribe_conversation", { conversationId }).catch((error) => {
      if (error.code !== "timeout" && error.code !== "disconnected") this.#conversations.delete(conversationId);
      throw error;
    });
  }

  /**
   * @param {string} conversationId
   * @returns {Promise<Frame>} the ack
   */
  unsubscribe(conversationId) {
    requireId(conversationId, "conversationId");
    this.#conversations.delete(conversationId);
    return this.#request("unsubscribe_conversation", { conversationId });
  }

  /** @param {string} conversationId */
  async takeover(conversationId) {
    return (await this.#request("takeover_conversation", { conversationId })).data;
  }

  /**
   * @param {string} conversationId
   * @param {string} body
   */
  async sendMessage(conversationId, body) {
    return (await this.#request("send_message", { conversationId, body })).data;
  }

  /**
   * @param {string} leadId
   * @param {string} status
   */
  async updateLeadStatus(leadId, status) {
    return (await this.#request("update_lead_status", { leadId, status })).data;
  }

  // --- actions ----------------------------------------------------------------------------------------------

  /**
   * @param {string} action
   * @param {Record<string, unknown>} data
   * @returns {Promise<Frame>} the reply; an `error` reply rejects with its code
   */
  async #request(action, data) {
    if (this.#closed) throw new RealtimeError("disconnected", "the client is closed");
    const requestId = newRequestId();
    const reply = this.#pending.add(requestId, JSON.stringify({ action, requestId, data }), this.#actionTimeoutMs);
    if (this.#state === "open") this.#sendUnsent();
    const frame = await reply;
    if (frame.event === "error") throw serviceError(frame);
    return frame;
  }

  #sendUnsent() {
    for (const text of this.#pending.drainUnsent()) this.#send(text);
  }

  #ping() {
    const requestId = newRequestId();
    this.#pings.add(requestId);
    this.#send(JSON.stringify({ action: "ping", requestId }));
  }

  // --- connection -------------------------------------------------------------------------------------------

  async #open() {
    this.#retryTimer = null;
    this.#setState(this.#everOpened ? "reconnecting" : "connecting");
    let token;
    try {
      token = await this.#token();
      if (typeof token !== "string" || !token) throw new TypeError("the token callback returned no token");
    } catch (error) {
      this.#report(new RealtimeError("token_failed", "the token callback failed", { cause: error }));
      if (!this.#closed) this.#retry();
      return;
    }
    if (this.#closed) return;
    let socket;
    try {
      socket = new this.#WebSocket(withToken(this.#url, token));
    } catch (error) {
      this.#report(new RealtimeError("socket_failed", "the WebSocket could not be created", { cause: error }));
      this.#retry();
      return;
    }
    this.#socket = socket;
    this.#authenticationTimer = this.#timers.setTimeout(() => {
      this.#report(new RealtimeError("timeout", `not authenticated within ${this.#actionTimeoutMs} ms`));
      this.#abandon();
    }, this.#actionTimeoutMs);
    this.#resuming = this.#sequencer.lastEventId !== null;
    if (this.#resuming) this.#sequencer.hold();
    socket.onopen = () => socket === this.#socket && this.#hello();
    socket.onmessage = (/** @type {{data: unknown}} */ event) => socket === this.#socket && this.#receive(event.data);
    socket.onclose = () => socket === this.#socket && this.#reconnect();
    socket.onerror = () => {}; // a close event follows
  }

  #hello() {
    this.#helloId = newRequestId();
    /** @type {Record<string, unknown>} */
    const data = { conversations: [...this.#conversations] };
    if (this.#resuming) data.lastEventId = this.#sequencer.lastEventId;
    this.#send(JSON.stringify({ action: "hello", requestId: this.#helloId, data }));
  }

  /** @param {Frame} frame */
  #authenticated(frame) {
    this.#stopAuthenticationTimer();
    if (frame.event !== "authenticated") {
      this.#report(serviceError(frame));
      this.#abandon();
      return;
    }
    const data = isObject(frame.data) ? frame.data : {};
    const cannotResume = this.#everOpened && !this.#resuming;
    this.#everOpened = true;
    this.#attempt = 0;
    const interval = data.heartbeatIntervalMs;
    this.#heartbeat.start(Number.isFinite(interval) && interval > 0 ? interval : DEFAULT_HEARTBEAT_INTERVAL_MS);
    this.#setState("open");
    this.#sendUnsent();
    if (cannotResume) this.#listeners.emit("resync_required", { lastEventId: null });
    this.#ready?.resolve(data);
  }

  /** Give up on the current socket (dead, or forgotten by the service) without waiting for its close. */
  #abandon() {
    const socket = this.#socket;
    this.#reconnect();
    closeQuietly(socket);
  }

  #reconnect() {
    this.#lost();
    if (this.#closed) return;
    this.#setState(this.#everOpened ? "reconnecting" : "connecting");
    this.#retry();
  }

  #lost() {
    this.#stopAuthenticationTimer();
    this.#socket = null;
    this.#helloId = null;
    this.#pings.clear();
    this.#heartbeat.stop();
    this.#sequencer.discardHeld();
    this.#pending.connectionLost();
  }

  #stopAuthenticationTimer() {
    if (this.#authenticationTimer !== null) this.#timers.clearTimeout(this.#authenticationTimer);
    this.#authenticationTimer = null;
  }

  #retry() {
    const delay = fullJitterDelay(this.#attempt, this.#backoff, this.#random);
    this.#attempt += 1;
    this.#retryTimer = this.#timers.setTimeout(() => this.#open(), delay);
  }

  /** @param {string} text */
  #send(text) {
    try {
      this.#socket?.send(text);
    } catch {
      // the socket is closing: its close event brings the reconnect, and unanswered actions are resent then
    }
  }

  // --- frames from the service ------------------------------------------------------------------------------

  /** @param {unknown} raw */
  #receive(raw) {
    const frame = parseFrame(raw);
    if (frame === null) {
      this.#report(new RealtimeError("bad_frame", "ignored a frame that is not a JSON service frame"));
      return;
    }
    if (frame.event === "error" && isObject(frame.data) && frame.data.message === UNREGISTERED) {
      this.#abandon(); // whatever was in flight is sent again on the next connection
      return;
    }
    if (typeof frame.requestId === "string") {
      this.#reply(frame);
      return;
    }
    if (frame.event === "replay_complete") {
      this.#deliver(this.#sequencer.release());
    } else if (frame.event === "resync_required") {
      this.#listeners.emit("resync_required", isObject(frame.data) ? frame.data : {});
      this.#deliver(this.#sequencer.release());
    } else if (frame.event === "error") {
      this.#report(serviceError(frame));
    } else if (frame.id === undefined) {
      this.#emitServiceEvent(frame); // not logged (dashboard_status): no id, no place in the order
    } else if (isEventId(frame.id)) {
      this.#deliver(this.#sequencer.accept(/** @type {any} */ (frame)));
    } else {
      this.#report(new RealtimeError("bad_frame", "ignored an event whose id is not an event id"));
    }
  }

  /** @param {Frame} frame */
  #reply(frame) {
    if (frame.requestId === this.#helloId) {
      this.#helloId = null;
      this.#authenticated(frame);
    } else if (this.#pings.delete(frame.requestId)) {
      this.#heartbeat.answered();
    } else {
      this.#pending.settle(frame); // or a late reply to an action that timed out: nobody awaits it
    }
  }

  /** @param {Frame[]} frames */
  #deliver(frames) {
    for (const frame of frames) this.#emitServiceEvent(frame);
  }

  /** @param {Frame} frame */
  #emitServiceEvent(frame) {
    if (!OWN_CHANNELS.has(frame.event)) this.#listeners.emit(frame.event, frame);
    this.#listeners.emit("*", frame);
  }

  /** @param {ConnectionState} state */
  #setState(state) {
    if (this.#state === state) return;
    this.#state = state;
    this.#listeners.emit("state", state);
  }

  /** @param {RealtimeError} error */
  #report(error) {
    this.#listeners.emit("error", error);
  }

  /**
   * @param {unknown} error
   * @param {string} channel
   */
  #onListenerError(error, channel) {
    if (channel === "error") return; // an error listener that throws has nobody left to tell
    this.#report(new RealtimeError("listener_failed", `a "${channel}" listener threw`, { cause: error }));
  }
}

/**
 * @param {unknown} raw
 * @returns {Frame | null}
 */
function parseFrame(raw) {
  if (typeof raw !== "string") return null;
  let frame;
  try {
    frame = JSON.parse(raw);
  } catch {
    return null;
  }
  return isObject(frame) && typeof frame.event === "string" ? /** @type {Frame} */ (frame) : null;
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** @param {Frame} frame */
function serviceError(frame) {
  const data = isObject(frame.data) ? frame.data : {};
  const code = typeof data.code === "string" ? data.code : "internal";
  return new RealtimeError(code, typeof data.message === "string" ? data.message : code);
}

/**
 * @param {unknown} value
 * @param {string} name
 */
function requireId(value, name) {
  if (typeof value !== "string" || !value.trim()) throw new TypeError(`${name} must be a non-empty string`);
}

/**
 * @param {string} url
 * @param {string} token
 */
function withToken(url, token) {
  const withQuery = new URL(url);
  withQuery.searchParams.set("token", token);
  return withQuery.toString();
}

/**
 * @param {any} socket
 * @param {number} [code]
 */
function closeQuietly(socket, code) {
  if (!socket) return;
  socket.onopen = socket.onmessage = socket.onclose = null;
  try {
    socket.close(code);
  } catch {
    // already closed
  }
}

function newRequestId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function deferred() {
  /** @type {(value: any) => void} */
  let resolve = () => {};
  /** @type {(error: unknown) => void} */
  let reject = () => {};
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
