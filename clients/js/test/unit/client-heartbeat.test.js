import assert from "node:assert/strict";
import { test } from "node:test";

import { connected, settle } from "../support/fakes.js";

test("a ping goes out every heartbeatIntervalMs from authenticated", async () => {
  const { socket, timers } = await connected({}, { heartbeatIntervalMs: 1000 });

  await timers.advance(999);
  assert.equal(socket.sentActions("ping").length, 0);
  for (let beat = 1; beat <= 3; beat += 1) {
    await timers.advance(1);
    const pings = socket.sentActions("ping");
    assert.equal(pings.length, beat);
    socket.deliver({ event: "pong", requestId: pings.at(-1).requestId, data: { serverTime: 1 } });
    await timers.advance(999);
  }

  assert.equal(socket.closedByClient, false);
});

test("a ping unanswered for two intervals means the socket is dead: the client reconnects", async () => {
  const { service, socket, timers, states } = await connected({ backoff: { initialMs: 100, maxMs: 100 } }, {
    heartbeatIntervalMs: 1000,
  });

  await timers.advance(2999);
  assert.equal(service.sockets.length, 1);
  assert.equal(socket.sentActions("ping").length, 2);
  await timers.advance(1);

  assert.equal(socket.closedByClient, true);
  assert.deepEqual(states, ["connecting", "open", "reconnecting"]);
  await timers.advance(100);
  assert.equal(service.sockets.length, 2);
});

test("a ping the service answers for a connection it forgot (pruned) reconnects at once", async () => {
  const { service, socket, timers } = await connected({}, { heartbeatIntervalMs: 1000 });
  await timers.advance(1000);
  const [ping] = socket.sentActions("ping");

  socket.deliver({
    event: "error",
    requestId: ping.requestId,
    data: { code: "forbidden", message: "connection is not registered" },
  });
  await settle();

  assert.equal(socket.closedByClient, true);
  await timers.advance(timers.pending()[0]);
  assert.equal(service.sockets.length, 2);
});

test("the default interval is 30 s when the service names none", async () => {
  const { socket, timers } = await connected({}, { heartbeatIntervalMs: undefined });

  await timers.advance(29_999);
  assert.equal(socket.sentActions("ping").length, 0);
  await timers.advance(1);
  assert.equal(socket.sentActions("ping").length, 1);
});
