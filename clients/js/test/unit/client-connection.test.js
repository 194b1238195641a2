import assert from "node:assert/strict";
import { test } from "node:test";

import { RealtimeClient, RealtimeError } from "../../src/index.js";
import { connected, fakeClient, openNext, settle } from "../support/fakes.js";

test("connect sends the token in the query string and resolves with the authenticated data", async () => {
  const { client, service, states } = fakeClient({ url: "ws://gateway.test/dev?x=1" });

  const ready = client.connect();
  await openNext(service, null, { connectionId: "c-1", tenantId: "t1" });

  assert.deepEqual(await ready, {
    connectionId: "c-1",
    tenantId: "t1",
    userId: "u1",
    heartbeatIntervalMs: 30000,
    subscriptions: [],
  });
  const url = new URL(service.last.url);
  assert.equal(url.searchParams.get("token"), "token-1");
  assert.equal(url.searchParams.get("x"), "1");
  assert.deepEqual(states, ["connecting", "open"]);
  assert.equal(client.state, "open");
});

test("the first hello carries the configured conversations and no lastEventId", async () => {
  const { socket } = await connected({ conversations: ["conv-1", "conv-2"] });

  assert.deepEqual(socket.hello.data, { conversations: ["conv-1", "conv-2"] });
});

test("a dropped connection is retried after a full-jitter delay that doubles up to maxMs, with a fresh token", async () => {
  const { service, timers, tokens, states } = await connected({ backoff: { initialMs: 100, maxMs: 1000 } });
  const delays = [];

  service.last.drop();
  for (let attempt = 0; attempt < 6; attempt += 1) {
    await settle();
    const [delay] = timers.pending();
    delays.push(delay);
    const sockets = service.sockets.length;
    await timers.advance(delay - 1);
    assert.equal(service.sockets.length, sockets, "no attempt before the delay is over");
    await timers.advance(1);
    assert.equal(service.sockets.length, sockets + 1);
    service.last.drop(1006); // refused: a browser sees only 1006
  }

  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999]);
  assert.equal(tokens.issued, 7);
  assert.deepEqual(states, ["connecting", "open", "reconnecting"]);
});

test("a successful reconnect starts the backoff over", async () => {
  const { service, timers } = await connected({ backoff: { initialMs: 100, maxMs: 1000 } });
  for (let refusals = 0; refusals < 3; refusals += 1) {
    service.last.drop();
    await timers.advance(timers.pending()[0]);
  }
  await openNext(service, timers);

  service.last.drop();
  await settle();

  assert.deepEqual(timers.pending().slice(0, 1), [99]);
});

test("a failing token callback is reported and retried with backoff", async () => {
  let calls = 0;
  const { client, service, timers, errors } = fakeClient({
    token: async () => {
      calls += 1;
      if (calls < 3) throw new Error("auth service down");
      return "fresh";
    },
  });

  const ready = client.connect();
  await timers.advance(499);
  await timers.advance(999);
  await openNext(service, timers);
  await ready;

  assert.equal(calls, 3);
  assert.equal(service.sockets.length, 1);
  assert.equal(new URL(service.last.url).searchParams.get("token"), "fresh");
  assert.deepEqual(
    errors.map((error) => error.code),
    ["token_failed", "token_failed"],
  );
});

test("close stops reconnecting, closes the socket and fails what awaits a reply", async () => {
  const { client, service, timers, states, socket } = await connected();
  const action = assert.rejects(
    client.takeover("conv-1"),
    (error) => error instanceof RealtimeError && error.code === "disconnected",
  );

  client.close();
  socket.drop(1000);
  await timers.advance(60_000);

  assert.equal(client.state, "closed");
  assert.deepEqual(states, ["connecting", "open", "closed"]);
  assert.equal(socket.closedByClient, true);
  assert.equal(service.sockets.length, 1);
  await action;
  await assert.rejects(client.takeover("conv-1"), { code: "disconnected" });
  await assert.rejects(client.connect(), { code: "disconnected" });
});

test("close during the first connect rejects connect with disconnected", async () => {
  const { client, service } = fakeClient();
  const ready = assert.rejects(client.connect(), { code: "disconnected" });
  await settle();

  client.close();

  await ready;
  assert.equal(service.last.closedByClient, true);
});

test("a hello refused by the service (Redis down) is retried on a new connection", async () => {
  const { client, service, timers, errors } = fakeClient();
  const ready = client.connect();
  await settle();
  service.last.open();
  service.last.deliver({
    event: "error",
    requestId: service.last.hello.requestId,
    data: { code: "unavailable", message: "try later" },
  });
  await timers.advance(timers.pending()[0]);

  await openNext(service, timers);

  assert.equal((await ready).tenantId, "t1");
  assert.equal(service.sockets[0].closedByClient, true);
  assert.deepEqual(
    errors.map((error) => error.code),
    ["unavailable"],
  );
});

test("without a WebSocket implementation the constructor says what to pass", () => {
  assert.throws(
    () => new RealtimeClient({ url: "ws://x/dev", token: () => "t", WebSocket: "not a class" }),
    /WebSocket option/,
  );
  assert.throws(() => new RealtimeClient({ url: "ws://x/dev", token: "not a function" }), /token/);
});

test("a connection not authenticated within actionTimeoutMs (its hello unanswered) is given up and retried", async () => {
  const { client, service, timers, errors } = fakeClient({ actionTimeoutMs: 3000 });
  const ready = client.connect();
  await settle();
  service.last.open();

  await timers.advance(2999);
  assert.equal(service.last.closedByClient, false);
  await timers.advance(1);
  assert.equal(service.last.closedByClient, true);
  assert.deepEqual(
    errors.map((error) => error.code),
    ["timeout"],
  );
  await timers.advance(timers.pending()[0]);
  await openNext(service, timers);

  assert.equal((await ready).tenantId, "t1");
  assert.equal(service.sockets.length, 2);
});
