/** A service event: `{event, id, tenantId, conversationId?, occurredAt, data}` (`id` is absent on snapshots such
 * as `dashboard_status`, which are not logged). */
export interface ServiceEvent<Data = Record<string, unknown>> {
  event: string;
  id?: string;
  tenantId?: string;
  conversationId?: string;
  occurredAt?: string;
  data: Data;
}

/** The data of `authenticated`, the answer to `hello`. */
export interface Authenticated {
  connectionId: string;
  tenantId: string;
  userId: string;
  heartbeatIntervalMs: number;
  subscriptions: string[];
}

/** A reply frame of an action: `ack` (or `error`, which rejects instead). */
export interface Ack<Data = Record<string, unknown>> {
  event: "ack";
  requestId: string;
  data: Data;
}

/** The data of an ack to a user action: what as-call-service answered. */
export interface ActionResult {
  action: string;
  result: unknown;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** What `resync_required` listeners get: the position the log no longer reaches back to (null: the client had
 * none, as after a reconnect before its first event). */
export interface ResyncRequired {
  lastEventId: string | null;
}

/** The slice of the WHATWG WebSocket the client uses (browsers' own, or the `ws` package's in Node). */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: any): void;
}

export interface RealtimeClientOptions {
  /** `ws://localhost:3105/dev`, or the deployed WebSocket URL. */
  url: string;
  /** Called before every (re)connect: return a fresh JWT. */
  token: () => string | Promise<string>;
  /** Defaults to `globalThis.WebSocket`; in Node 20, pass the `ws` package's. */
  WebSocket?: new (url: string) => WebSocketLike;
  /** Subscribed on connect and re-subscribed on every reconnect. */
  conversations?: Iterable<string>;
  /** Reconnect delays: full jitter, uniform in [0, min(maxMs, initialMs · 2^attempt)). Default 500 / 30000. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** An action with no reply within this time rejects with `timeout`. Default 10000. */
  actionTimeoutMs?: number;
  /** For tests: the timer functions (default: the global ones). */
  timers?: Timers;
  /** For tests: uniform in [0, 1) (default: Math.random). */
  random?: () => number;
}

export class RealtimeError extends Error {
  constructor(code: string, message?: string, options?: { cause?: unknown });
  /** The service's error code (`bad_request`, `forbidden`, `rate_limited`, `upstream_unavailable`, …), or
   * `timeout` / `disconnected`; on the `error` channel also `bad_frame`, `token_failed`, `socket_failed`,
   * `listener_failed`. */
  readonly code: string;
}

export class RealtimeClient {
  constructor(options: RealtimeClientOptions);
  /** Id of the last event delivered to listeners: where a reconnect resumes. */
  readonly lastEventId: string | null;
  readonly state: ConnectionState;

  on(name: "state", listener: (state: ConnectionState) => void): () => void;
  on(name: "resync_required", listener: (data: ResyncRequired) => void): () => void;
  /** Frames the client ignored (malformed), errors no request awaits, failing token callbacks or listeners. */
  on(name: "error", listener: (error: RealtimeError) => void): () => void;
  /** A service event by name, or `"*"` for every one. */
  on(name: string, listener: (frame: ServiceEvent) => void): () => void;

  /** Resolves with the first `authenticated` data; keeps reconnecting until `close()`. */
  connect(): Promise<Authenticated>;
  subscribe(conversationId: string): Promise<Ack<{ action: string; conversationId: string }>>;
  unsubscribe(conversationId: string): Promise<Ack<{ action: string; conversationId: string }>>;
  takeover(conversationId: string): Promise<ActionResult>;
  sendMessage(conversationId: string, body: string): Promise<ActionResult>;
  updateLeadStatus(leadId: string, status: string): Promise<ActionResult>;
  /** State "closed", no more reconnects; actions awaiting a reply reject with `disconnected`. */
  close(): void;
}
