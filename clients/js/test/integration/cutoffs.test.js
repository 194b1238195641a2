/**
 * API Gateway's 2-hour connection limit and 10-minute idle cut-off, shortened through the gateway's flags
 * (--max-duration, --idle-timeout): the client comes back and misses nothing.
 */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { connectClient } from "../support/observe.js";
import { freshTenant, Gateway, startRedis } from "../support/stack.js";

const CALL = { callId: "c1", from: "+15550001111" };
let redis;
const running = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const { client, gateway } of running) {
    client?.close();
    await gateway.stop();
  }
  await redis?.stop();
});

async function gatewayWith(args, heartbeatIntervalMs) {
  const gateway = new Gateway({ redisUrl: redis.url, args, env: { HEARTBEAT_INTERVAL_MS: String(heartbeatIntervalMs) } });
  running.push({ gateway });
  return gateway.start();
}

async function dashboard(gateway, tenant) {
  const connected = await connectClient(gateway, tenant);
  running.push({ gateway, client: connected.client });
  return connected;
}

test("at the maximum connection duration the client reconnects and resumes; its pings kept the idle cut away", async () => {
  const gateway = await gatewayWith(["--max-duration", "2", "--idle-timeout", "1"], 300);
  const tenant = freshTenant();
  const { client, observed, authenticated } = await dashboard(gateway, tenant);
  const ids = [await gateway.broadcast(tenant, "call_missed", CALL)];

  await gateway.log.waitFor(new RegExp(`LIMIT +${escape(authenticated.connectionId)} maximum connection duration`));
  ids.push(await gateway.broadcast(tenant, "call_missed", CALL)); // while it is away, or just back
  await observed.until(() => observed.closes.includes(1001) && client.state === "open", "back after the cut");
  ids.push(await gateway.broadcast(tenant, "call_missed", CALL));
  await observed.untilIds(ids);

  assert.deepEqual(observed.ids, ids);
  assert.equal(observed.closes[0], 1001);
  assert.ok(
    !gateway.log.lines.some((line) => line.includes(authenticated.connectionId) && line.includes("idle timeout")),
    "pings every heartbeatIntervalMs kept the first connection from the 1 s idle cut-off for 2 s",
  );
});

test("at the idle cut-off (a heartbeat slower than the gateway's idle timeout) the client reconnects and resumes", async () => {
  const gateway = await gatewayWith(["--idle-timeout", "1"], 5000);
  const tenant = freshTenant();
  const { client, observed, authenticated } = await dashboard(gateway, tenant);
  const ids = [await gateway.broadcast(tenant, "call_missed", CALL)];

  await gateway.log.waitFor(new RegExp(`LIMIT +${escape(authenticated.connectionId)} idle timeout`));
  ids.push(await gateway.broadcast(tenant, "call_missed", CALL));
  await observed.until(() => observed.closes.includes(1001) && client.state === "open", "back after the cut");
  ids.push(await gateway.broadcast(tenant, "call_missed", CALL));
  await observed.untilIds(ids);

  assert.deepEqual(observed.ids, ids);
  assert.deepEqual(observed.closes.slice(0, 1), [1001]);
});

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
