/**
 * The real service for integration and browser tests: a real Redis server and the real local gateway
 * (`python -m local` over this repo's template), each a child process on a free loopback port, stopped by PID.
 * Python comes from the repo's .venv (`make venv`), or $PYTHON.
 */

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

import { LineLog } from "./line-log.js";

export const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
export const PYTHON = process.env.PYTHON ?? `${ROOT}.venv/bin/python`;
export const JWT_SECRET = "js-client-test-secret-0123456789abcdef0123";
export const SERVICE_KEY = "js-client-test-internal-service-key";

const READY = /local gateway ready on http:\/\/[^\s]+:(\d+) stage (\S+)/;
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/**
 * @param {string[]} args
 * @param {Record<string, string>} [env]
 */
function python(args, env = {}) {
  if (!existsSync(PYTHON)) throw new Error(`no Python at ${PYTHON}: run "make venv" in ${ROOT} (or set PYTHON)`);
  const child = spawn(PYTHON, args, {
    cwd: ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONPATH: ROOT, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const log = new LineLog();
  child.stdout.setEncoding("utf8").on("data", (chunk) => log.add(chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk) => log.add(chunk));
  child.on("exit", (code, signal) => log.end(`exited (${code ?? signal})`));
  return { child, log };
}

/** @param {import("node:child_process").ChildProcess} child */
async function terminate(child, timeoutMs = 20000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** A redis-server (the binary the gateway embeds), alive as long as this process holds its wrapper's stdin. */
export async function startRedis() {
  const script =
    "import sys\nfrom local.redis_server import RedisServer\n" +
    "with RedisServer() as server:\n    print('redis', server.url, flush=True)\n    sys.stdin.read()\n";
  const { child, log } = python(["-c", script]);
  const [, url] = await log.waitFor(/^redis (\S+)$/, { timeoutMs: 30000 });
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      await exited;
    },
  };
}

/** Empty a tenant's event log, as its length and age bounds would: through the service's own key names. */
export async function emptyEventLog(redisUrl, tenant) {
  const script =
    "import sys, redis\nfrom connection_service import redis_keys\n" +
    "store = redis.Redis.from_url(sys.argv[1], db=int(sys.argv[3]))\nstore.xtrim(redis_keys.events(sys.argv[2]), maxlen=0)\n";
  const { child, log } = python(["-c", script, redisUrl, tenant, process.env.EVENT_QUEUE_REDIS_DB ?? "2"], {
    PYTHONPATH: `${ROOT}functions`,
  });
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`emptying the event log failed:\n${log.tail()}`);
}

/** `python3 -m http.server` serving a directory on a free loopback port, as the README shows. */
export async function startStaticServer(directory) {
  const port = await freePort();
  const { child, log } = python(["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory]);
  await log.waitFor(/Serving HTTP on/, { timeoutMs: 20000 });
  return { port, stop: () => terminate(child) };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** A signed HS256 JWT, as ts-auth-service issues them. */
export function token(tenant, user = "user-1", ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({
    sub: user,
    tenant_id: tenant,
    iat: now,
    exp: now + ttlSeconds,
  })}`;
  return `${unsigned}.${createHmac("sha256", JWT_SECRET).update(unsigned).digest("base64url")}`;
}

let tenants = 0;
/** A tenant no other test uses. */
export function freshTenant(name = "tenant") {
  tenants += 1;
  return `${name}-${process.pid}-${tenants}-${Date.now().toString(36)}`;
}

/** `python -m local` serving the repo's template. */
export class Gateway {
  /**
   * @param {{redisUrl: string, env?: Record<string, string>, args?: string[]}} options
   */
  constructor({ redisUrl, env = {}, args = [] }) {
    this.redisUrl = redisUrl;
    this.env = env;
    this.args = args;
    this.port = 0;
    this.stage = "dev";
    /** @type {import("node:child_process").ChildProcess | null} */
    this.process = null;
    this.log = new LineLog();
  }

  /** Start it; on the port it had before when restarted, so clients find it again at the same URL. */
  async start() {
    const { child, log } = python(
      [
        "-m", "local",
        "--template", "template.yaml",
        "--host", "127.0.0.1",
        "--port", String(this.port),
        "--stage", this.stage,
        "--schedules", "off",
        ...this.args,
      ],
      {
        REDIS_URL: this.redisUrl,
        JWT_SECRET,
        INTERNAL_SERVICE_KEY: SERVICE_KEY,
        ALLOWED_ORIGINS: "http://localhost:3000",
        ...this.env,
      },
    );
    this.process = child;
    this.log = log;
    const [, port] = await log.waitFor(READY, { timeoutMs: 60000 });
    this.port = Number(port);
    return this;
  }

  /** SIGTERM by PID and wait for its exit (it closes every socket with 1001 first). */
  async stop() {
    if (this.process) await terminate(this.process);
    this.process = null;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/${this.stage}`;
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Broadcast to every connection of a tenant; resolves with the logged event's id. */
  async broadcast(tenant, event, data, conversationId) {
    const path = conversationId
      ? `/broadcast/conversation/${encodeURIComponent(conversationId)}`
      : `/broadcast/tenant/${encodeURIComponent(tenant)}`;
    const body = conversationId ? { event, tenantId: tenant, data } : { event, data };
    const answer = await this.#fetch(path, "POST", body, { "X-Internal-Service-Key": SERVICE_KEY });
    return answer.id;
  }

  /** Fault rules (`drop@post#1`, `410@post#1`, …) for the @connections calls. */
  async addFaults(...rules) {
    await this.#fetch("/__local/faults", "POST", { rules });
  }

  async clearFaults() {
    await this.#fetch("/__local/faults", "DELETE");
  }

  /** Close a connection as the service would (@connections DELETE). */
  async disconnect(connectionId) {
    await this.#fetch(`/${this.stage}/@connections/${encodeURIComponent(connectionId)}`, "DELETE");
  }

  async #fetch(path, method, body, headers = {}) {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

export { terminate };
