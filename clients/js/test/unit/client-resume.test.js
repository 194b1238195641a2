import assert from "node:assert/strict";
import { test } from "node:test";

import { connected, event, fakeClient, settle } from "../support/fakes.js";

const ids = (frames) => frames.map((frame) => frame.id);

/** Drop the current socket and open the next one (its hello not yet answered). */
async function reconnect({ service, timers }) {
  service.last.drop();
  await timers.advance(timers.pending()[0]);
  const socket = service.last;
  socket.open();
  return socket;
}

test("events reach the listeners of their name and of '*', and set lastEventId", async () => {
  const harness = await connected();
  const incoming = [];
  harness.client.on("call_incoming", (frame) => incoming.push(frame));

  harness.socket.deliver(event("1-0", "call_incoming", { callId: "c1" }));
  harness.socket.deliver(event("2-0", "call_missed"));

  assert.deepEqual(
    incoming.map((frame) => frame.data),
    [{ callId: "c1" }],
  );
  assert.deepEqual(ids(harness.received), ["1-0", "2-0"]);
  assert.equal(harness.client.lastEventId, "2-0");
});

test("a reconnect says hello with lastEventId and the remembered conversations", async () => {
  const harness = await connected({ conversations: ["conv-1"] });
  harness.socket.deliver(event("7-0"));
  const subscribed = harness.client.subscribe("conv-2");
  harness.socket.deliver({ event: "ack", requestId: harness.socket.sentActions("subscribe_conversation")[0].requestId });
  await subscribed;
  const unsubscribed = harness.client.unsubscribe("conv-1");

  const socket = await reconnect(harness);

  assert.deepEqual(socket.hello.data, { conversations: ["conv-2"], lastEventId: "7-0" });
  socket.authenticate();
  await settle();
  const resent = socket.sentActions("unsubscribe_conversation");
  assert.equal(resent.length, 1, "the unsubscribe in flight is sent again");
  socket.deliver({ event: "ack", requestId: resent[0].requestId, data: {} });
  await unsubscribed;
});

test("a subscription the service refuses is not remembered for reconnects", async () => {
  const harness = await connected();
  const refused = harness.client.subscribe("conv-x");
  const [frame] = harness.socket.sentActions("subscribe_conversation");
  harness.socket.deliver({
    event: "error",
    requestId: frame.requestId,
    data: { code: "bad_request", message: "too many subscriptions on this connection" },
  });
  await assert.rejects(refused, { code: "bad_request" });

  const socket = await reconnect(harness);

  assert.deepEqual(socket.hello.data.conversations, []);
});

test("live events that overtake the replay are held and delivered after it, in id order, once", async () => {
  const harness = await connected();
  harness.socket.deliver(event("1-0"));

  const socket = await reconnect(harness);
  socket.deliver(event("5-0")); // live, before authenticated
  socket.authenticate();
  socket.deliver(event("2-0"));
  socket.deliver(event("6-0")); // live, among the replayed ones
  socket.deliver(event("3-0"));
  socket.deliver(event("4-0"));
  socket.deliver(event("5-0")); // replayed and live both
  assert.deepEqual(ids(harness.received), ["1-0"], "nothing reaches listeners before the replay is complete");

  socket.deliver({ event: "replay_complete", data: { count: 4 } });
  socket.deliver(event("6-0"));
  socket.deliver(event("7-0"));

  assert.deepEqual(ids(harness.received), ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0", "7-0"]);
  assert.equal(harness.client.lastEventId, "7-0");
});

test("a connection lost mid-replay resumes from the last event delivered", async () => {
  const harness = await connected();
  harness.socket.deliver(event("1-0"));
  const interrupted = await reconnect(harness);
  interrupted.authenticate();
  interrupted.deliver(event("2-0"));

  const socket = await reconnect(harness);

  assert.equal(socket.hello.data.lastEventId, "1-0");
  socket.authenticate();
  socket.deliver(event("2-0"));
  socket.deliver({ event: "replay_complete", data: { count: 1 } });
  assert.deepEqual(ids(harness.received), ["1-0", "2-0"]);
});

test("resync_required is announced, then the live events held meanwhile are delivered", async () => {
  const harness = await connected();
  const resyncs = [];
  harness.client.on("resync_required", (data) => resyncs.push({ data, seen: ids(harness.received) }));
  harness.socket.deliver(event("1-0"));

  const socket = await reconnect(harness);
  socket.authenticate();
  socket.deliver(event("900-0"));
  socket.deliver({ event: "resync_required", data: { lastEventId: "1-0" } });

  assert.deepEqual(resyncs, [{ data: { lastEventId: "1-0" }, seen: ["1-0"] }]);
  assert.deepEqual(ids(harness.received), ["1-0", "900-0"]);
});

test("a reconnect before any event was seen cannot resume: resync_required says so", async () => {
  const harness = await connected();
  const resyncs = [];
  harness.client.on("resync_required", (data) => resyncs.push(data));

  const socket = await reconnect(harness);
  socket.deliver(event("3-0"));
  socket.authenticate();

  assert.equal(socket.hello.data.lastEventId, undefined);
  assert.deepEqual(resyncs, [{ lastEventId: null }]);
  assert.deepEqual(ids(harness.received), ["3-0"]);
});

test("an event without id (dashboard_status) is delivered and leaves lastEventId alone", async () => {
  const harness = await connected();
  harness.socket.deliver(event("1-0"));
  const statuses = [];
  harness.client.on("dashboard_status", (frame) => statuses.push(frame.data));

  harness.socket.deliver({ event: "dashboard_status", tenantId: "t1", data: { activeConnections: 2 } });

  assert.deepEqual(statuses, [{ activeConnections: 2 }]);
  assert.equal(harness.client.lastEventId, "1-0");
});

test("the first connection delivers events at once, even before authenticated", async () => {
  const { client, service, received } = fakeClient();
  client.connect();
  await settle();
  service.last.open();

  service.last.deliver(event("4-0"));

  assert.deepEqual(ids(received), ["4-0"]);
  assert.equal(client.state, "connecting");
});
