/** The whole service for a test file: a real Redis, an as-call-service stand-in and the gateway over them. */

import { CallService } from "./call-service.js";
import { connectClient } from "./observe.js";
import { Gateway, startRedis } from "./stack.js";

/**
 * @param {{env?: Record<string, string>, args?: string[]}} [options] the gateway's environment and flags
 */
export async function startService({ env = {}, args = [] } = {}) {
  const redis = await startRedis();
  const callService = await new CallService().start();
  const gateway = await new Gateway({
    redisUrl: redis.url,
    args,
    env: { AS_CALL_SERVICE_URL: callService.url, ...env },
  }).start();
  /** @type {{close: () => void}[]} */
  const clients = [];
  return {
    redis,
    callService,
    gateway,
    /** A connected client (closed when the service stops) and what it saw. */
    async dashboard(tenant, options) {
      const connected = await connectClient(gateway, tenant, options);
      clients.push(connected.client);
      return connected;
    },
    /** @param {{close: () => void}} client closed when the service stops */
    track(client) {
      clients.push(client);
    },
    async stop() {
      for (const client of clients) client.close();
      await gateway.stop();
      await callService.stop();
      await redis.stop();
    },
  };
}
