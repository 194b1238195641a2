/** The client against the real local gateway: connect, events, subscriptions, actions, tenant isolation. */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { RealtimeClient, RealtimeError } from "../../src/index.js";
import { Observed } from "../support/observe.js";
import { startService } from "../support/service.js";
import { freshTenant, token } from "../support/stack.js";

const CALL = { callId: "call-1", from: "+15550001111", to: "+15550002222" };
let service;
let gateway;
let callService;

before(async () => {
  service = await startService();
  ({ gateway, callService } = service);
});

after(() => service?.stop());

const dashboard = (tenant, options) => service.dashboard(tenant, options);

test("connect resolves with the authenticated data of the token's tenant and user", async () => {
  const tenant = freshTenant();

  const { client, authenticated, observed } = await dashboard(tenant, { user: "agent-7" });

  assert.equal(authenticated.tenantId, tenant);
  assert.equal(authenticated.userId, "agent-7");
  assert.equal(typeof authenticated.connectionId, "string");
  assert.ok(authenticated.heartbeatIntervalMs > 0);
  assert.equal(client.state, "open");
  assert.deepEqual(observed.states, ["connecting", "open"]);
});

test("broadcast events reach the listeners of their name, in order, and set lastEventId", async () => {
  const tenant = freshTenant();
  const { client, observed } = await dashboard(tenant);
  const incoming = [];
  client.on("call_incoming", (frame) => incoming.push(frame));

  const ids = [];
  for (const callId of ["c1", "c2", "c3"]) ids.push(await gateway.broadcast(tenant, "call_incoming", { ...CALL, callId }));
  await observed.untilIds(ids);

  assert.deepEqual(observed.ids, ids);
  assert.deepEqual(
    incoming.map((frame) => [frame.event, frame.tenantId, frame.data.callId]),
    [
      ["call_incoming", tenant, "c1"],
      ["call_incoming", tenant, "c2"],
      ["call_incoming", tenant, "c3"],
    ],
  );
  assert.ok(incoming.every((frame) => typeof frame.occurredAt === "string"));
  assert.equal(client.lastEventId, ids.at(-1));
});

test("conversation events reach subscribers only, from the configured conversations and subscribe()", async () => {
  const tenant = freshTenant();
  const configured = await dashboard(tenant, { conversations: ["conv-a"] });
  const later = await dashboard(tenant);
  const bystander = await dashboard(tenant);
  const ack = await later.client.subscribe("conv-b");

  const idA = await gateway.broadcast(tenant, "ai_activated", { conversationId: "conv-a" }, "conv-a");
  const idB = await gateway.broadcast(tenant, "ai_activated", { conversationId: "conv-b" }, "conv-b");
  const everyone = await gateway.broadcast(tenant, "call_missed", CALL);
  await Promise.all([configured, later, bystander].map(({ observed }) => observed.untilIds([everyone])));

  assert.deepEqual(ack.data, { action: "subscribe_conversation", conversationId: "conv-b" });
  assert.deepEqual(configured.observed.ids, [idA, everyone]);
  assert.deepEqual(later.observed.ids, [idB, everyone]);
  assert.deepEqual(bystander.observed.ids, [everyone]);
});

test("unsubscribe stops a conversation's events", async () => {
  const tenant = freshTenant();
  const { client, observed } = await dashboard(tenant, { conversations: ["conv-a"] });

  await client.unsubscribe("conv-a");
  await gateway.broadcast(tenant, "ai_activated", { conversationId: "conv-a" }, "conv-a");
  const marker = await gateway.broadcast(tenant, "call_missed", CALL);
  await observed.untilIds([marker]);

  assert.deepEqual(observed.ids, [marker]);
});

test("takeover, sendMessage and updateLeadStatus reach as-call-service as the token's tenant and user", async () => {
  const tenant = freshTenant();
  const { client, observed } = await dashboard(tenant, { user: "agent-1" });
  const before = callService.requests.length;

  const takeover = await client.takeover("conv-1");
  const sent = await client.sendMessage("conv-1", "On my way 🚗");
  const lead = await client.updateLeadStatus("lead-9", "qualified");

  assert.deepEqual(takeover, {
    action: "takeover_conversation",
    result: { ok: true, path: "/conversations/conv-1/takeover" },
  });
  assert.equal(sent.action, "send_message");
  assert.equal(lead.action, "update_lead_status");
  const requests = callService.requests.slice(before);
  assert.deepEqual(
    requests.map((request) => [request.method, request.path, request.body]),
    [
      ["POST", "/conversations/conv-1/takeover", {}],
      ["POST", "/conversations/conv-1/messages", { body: "On my way 🚗" }],
      ["PATCH", "/leads/lead-9/status", { status: "qualified" }],
    ],
  );
  for (const request of requests) {
    assert.equal(request.headers["x-tenant-id"], tenant);
    assert.equal(request.headers["x-user-id"], "agent-1");
  }
  assert.equal(new Set(requests.map((request) => request.headers["idempotency-key"])).size, 3);
  await observed.until(
    () => observed.frames.some((frame) => frame.event === "lead_status_updated"),
    "the tenant hears of the lead's new status",
  );
  assert.deepEqual(
    observed.frames.map((frame) => frame.event),
    ["conversation_taken_over", "lead_status_updated"],
  );
});

test("as-call-service's refusal rejects with the service's error code", async () => {
  const tenant = freshTenant();
  const { client } = await dashboard(tenant);
  callService.answer("/conversations/conv-gone/takeover", 404, { error: "no such conversation" });
  callService.answer("/conversations/conv-busy/takeover", 409, { message: "already taken over" });

  await assert.rejects(
    client.takeover("conv-gone"),
    (error) => error instanceof RealtimeError && error.code === "forbidden",
  );
  await assert.rejects(client.takeover("conv-busy"), { code: "bad_request", message: /already taken over/ });
  await assert.rejects(client.sendMessage("conv-1", ""), { code: "bad_request" });
});

test("two tenants' clients each see only their own tenant's events", async () => {
  const [tenantA, tenantB] = [freshTenant("a"), freshTenant("b")];
  const a = await dashboard(tenantA);
  const b = await dashboard(tenantB);

  const idsA = [];
  const idsB = [];
  for (let i = 0; i < 5; i += 1) {
    idsA.push(await gateway.broadcast(tenantA, "call_incoming", { ...CALL, callId: `a${i}` }));
    idsB.push(await gateway.broadcast(tenantB, "call_incoming", { ...CALL, callId: `b${i}` }));
  }
  await Promise.all([a.observed.untilIds(idsA), b.observed.untilIds(idsB)]);

  assert.deepEqual(a.observed.ids, idsA);
  assert.deepEqual(b.observed.ids, idsB);
  assert.ok(a.observed.frames.every((frame) => frame.tenantId === tenantA));
  assert.ok(b.observed.frames.every((frame) => frame.tenantId === tenantB));
});

test("a refused token keeps being retried; a token callback that heals lets it in", async () => {
  const tenant = freshTenant();
  const observed = new Observed();
  let calls = 0;
  const client = new RealtimeClient({
    url: gateway.wsUrl,
    token: () => (++calls < 3 ? "not-a-jwt" : token(tenant)),
    WebSocket: observed.WebSocket,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  service.track(client);
  observed.attach(client);

  const authenticated = await client.connect();

  assert.equal(authenticated.tenantId, tenant);
  assert.equal(calls, 3);
  assert.deepEqual(observed.closes, [1006, 1006], "a refused handshake is a 1006 with no status, as in browsers");
});
