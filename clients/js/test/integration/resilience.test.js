/**
 * The client through what breaks connections, against the real gateway with a real Redis that outlives it:
 * dropped sockets, @connections 410s, a gateway restart mid-stream, a log that no longer reaches back.
 */

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";

import { startService } from "../support/service.js";
import { emptyEventLog, freshTenant } from "../support/stack.js";

const HEARTBEAT_INTERVAL_MS = 400;
let service;
let gateway;
let callService;

before(async () => {
  service = await startService({ env: { HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS) } });
  ({ gateway, callService } = service);
});

beforeEach(() => gateway.clearFaults());

after(() => service?.stop());

const dashboard = (tenant, options) => service.dashboard(tenant, options);

const reconnects = (observed) => observed.states.filter((state) => state === "reconnecting").length;

test("under a stream of broadcasts with drops, 410s and a gateway restart, every event reaches every client once, in order, within its tenant", async () => {
  const tenants = [freshTenant("a"), freshTenant("b")];
  const dashboards = new Map(tenants.map((tenant) => [tenant, []]));
  for (const tenant of tenants) {
    for (let i = 0; i < 2; i += 1) dashboards.get(tenant).push(await dashboard(tenant, { user: `user-${i}` }));
  }
  const sent = new Map(tenants.map((tenant) => [tenant, []]));
  const broadcast = async (tenant, n) =>
    sent.get(tenant).push(await gateway.broadcast(tenant, "call_missed", { callId: `c${n}`, from: "+15550001111" }));
  // Every client holds a position in its tenant's log before the faults begin.
  for (const tenant of tenants) await broadcast(tenant, 0);
  await Promise.all(tenants.flatMap((tenant) => dashboards.get(tenant).map(({ observed }) => observed.untilIds(sent.get(tenant)))));

  const disturbances = {
    10: () => gateway.addFaults("drop@post#1"),
    20: () => gateway.addFaults("410@post#1"),
    30: () => gateway.restart(),
    40: () => gateway.addFaults("drop@post#2"),
    50: () => gateway.addFaults("410@post#2"),
  };
  for (let n = 1; n <= 60; n += 1) {
    await disturbances[n]?.();
    for (const tenant of tenants) await broadcast(tenant, n);
  }
  const all = tenants.flatMap((tenant) => dashboards.get(tenant).map((d) => ({ tenant, ...d })));
  await Promise.all(all.map(({ tenant, observed }) => observed.untilIds(sent.get(tenant))));

  for (const { tenant, observed, client } of all) {
    assert.deepEqual(observed.ids, sent.get(tenant), "each event once, in order");
    assert.ok(observed.frames.every((frame) => frame.tenantId === tenant), "nothing from another tenant");
    assert.equal(client.lastEventId, sent.get(tenant).at(-1));
    assert.ok(observed.closes.includes(1001), "the restart closed it (1001 Going away) and it came back");
  }
  // The restart reconnected every client; the first drop, at least one more (later faults may land on the same).
  assert.ok(all.reduce((sum, { observed }) => sum + reconnects(observed), 0) >= all.length + 1);
});

test("an action in flight across a drop is answered after the reconnect", async () => {
  const tenant = freshTenant();
  const { client, observed } = await dashboard(tenant);
  const first = await gateway.broadcast(tenant, "call_missed", { callId: "c1", from: "+1555" });
  await observed.untilIds([first]); // a position to resume from
  await gateway.addFaults("drop@post#1"); // the announcement that precedes the ack: the socket drops

  const result = await client.updateLeadStatus("lead-1", "contacted");

  assert.equal(result.action, "update_lead_status");
  const calls = callService.requests.filter((request) => request.path === "/leads/lead-1/status");
  assert.equal(calls.length, 2, "sent, then sent again after the reconnect");
  assert.equal(calls[0].headers["idempotency-key"], calls[1].headers["idempotency-key"]);
  await observed.until(() => reconnects(observed) >= 1, "a reconnect");
  await observed.until(() => observed.frames.some((f) => f.event === "lead_status_updated"), "the announcement");
  assert.equal(observed.frames.filter((f) => f.event === "lead_status_updated").length, 1, "announced once");
});

test("a client whose connection the service pruned (410) notices at its next ping and resumes", async () => {
  const tenant = freshTenant();
  const { observed } = await dashboard(tenant);
  const first = await gateway.broadcast(tenant, "call_missed", { callId: "c1", from: "+1555" });
  await observed.untilIds([first]);
  await gateway.addFaults("410@post#1");

  const lost = await gateway.broadcast(tenant, "call_missed", { callId: "c2", from: "+1555" });
  await observed.untilIds([lost]);

  assert.deepEqual(observed.ids, [first, lost]);
  assert.equal(reconnects(observed), 1);
});

test("a position the log no longer holds is told resync_required, and the client carries on live", async () => {
  const tenant = freshTenant();
  const { client, observed, authenticated } = await dashboard(tenant);
  const first = await gateway.broadcast(tenant, "call_missed", { callId: "c1", from: "+1555" });
  await observed.untilIds([first]);
  await emptyEventLog(service.redis.url, tenant); // the log's bounds passed the client's position

  await gateway.disconnect(authenticated.connectionId);
  await observed.until(() => observed.resyncs.length === 1, "resync_required");
  await observed.until(() => client.state === "open", "open again");
  const live = await gateway.broadcast(tenant, "call_missed", { callId: "c3", from: "+1555" });
  await observed.untilIds([live]);

  assert.deepEqual(observed.resyncs, [{ lastEventId: first }]);
  assert.ok(!observed.ids.some((id) => id !== first && id !== live), "nothing replayed from a broken position");
});
