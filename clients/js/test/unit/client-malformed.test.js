import assert from "node:assert/strict";
import { test } from "node:test";

import { connected, event } from "../support/fakes.js";

test("frames that are not service frames are reported and ignored; the client carries on", async () => {
  const { client, socket, received, errors } = await connected();

  for (const raw of [
    "{oops",
    "[]",
    "null",
    "42",
    '"text"',
    JSON.stringify({ data: {} }),
    JSON.stringify({ event: 7 }),
    JSON.stringify({ message: "Internal server error", connectionId: "c", requestId: "r" }),
    new Uint8Array([1, 2, 3]),
    JSON.stringify({ event: "call_incoming", id: "not-an-id", data: {} }),
    JSON.stringify({ event: "call_incoming", id: 12, data: {} }),
  ]) {
    socket.deliver(raw);
  }
  socket.deliver(event("1-0"));

  assert.deepEqual(
    received.map((frame) => frame.id),
    ["1-0"],
  );
  assert.equal(errors.length, 11);
  assert.ok(errors.every((error) => error.code === "bad_frame"));
  assert.equal(client.state, "open");
});

test("an error frame no request awaits is reported with its code", async () => {
  const { socket, errors } = await connected();

  socket.deliver({ event: "error", requestId: null, data: { code: "bad_request", message: "requestId" } });

  assert.deepEqual(
    errors.map((error) => error.code),
    ["bad_request"],
  );
});

test("a service event named like one of the client's channels reaches only '*' listeners", async () => {
  const { client, socket, states, received } = await connected();
  const statesBefore = [...states];

  socket.deliver(event("1-0", "state"));

  assert.deepEqual(states, statesBefore);
  assert.equal(client.state, "open");
  assert.deepEqual(
    received.map((frame) => frame.event),
    ["state"],
  );
});

test("a listener that throws does not stop the others nor the client", async () => {
  const { client, socket, received, errors } = await connected();
  client.on("call_incoming", () => {
    throw new Error("dashboard bug");
  });

  socket.deliver(event("1-0"));
  socket.deliver(event("2-0"));

  assert.deepEqual(
    received.map((frame) => frame.id),
    ["1-0", "2-0"],
  );
  assert.deepEqual(
    errors.map((error) => [error.code, error.cause.message]),
    [
      ["listener_failed", "dashboard bug"],
      ["listener_failed", "dashboard bug"],
    ],
  );
  assert.equal(client.lastEventId, "2-0");
});

test("a listener can be removed", async () => {
  const { client, socket } = await connected();
  const seen = [];
  const off = client.on("call_incoming", (frame) => seen.push(frame.id));

  socket.deliver(event("1-0"));
  off();
  socket.deliver(event("2-0"));

  assert.deepEqual(seen, ["1-0"]);
});
