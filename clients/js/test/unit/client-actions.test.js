import assert from "node:assert/strict";
import { test } from "node:test";

import { RealtimeError } from "../../src/index.js";
import { connected, fakeClient, openNext, settle } from "../support/fakes.js";

function ack(socket, frame, data = { action: frame.action, result: { ok: true } }) {
  socket.deliver({ event: "ack", requestId: frame.requestId, data });
}

test("each action sends its frame and resolves with its ack's data", async () => {
  const { client, socket } = await connected();
  const calls = [
    [() => client.takeover("conv-1"), "takeover_conversation", { conversationId: "conv-1" }],
    [() => client.sendMessage("conv-1", "On my way"), "send_message", { conversationId: "conv-1", body: "On my way" }],
    [() => client.updateLeadStatus("lead-1", "won"), "update_lead_status", { leadId: "lead-1", status: "won" }],
  ];

  for (const [call, action, data] of calls) {
    const result = call();
    const frame = socket.sent.at(-1);
    assert.equal(frame.action, action);
    assert.deepEqual(frame.data, data);
    ack(socket, frame, { action, result: { done: action } });
    assert.deepEqual(await result, { action, result: { done: action } });
  }
});

test("subscribe resolves with the ack frame", async () => {
  const { client, socket } = await connected();

  const subscribed = client.subscribe("conv-1");
  const [frame] = socket.sentActions("subscribe_conversation");
  ack(socket, frame, { action: "subscribe_conversation", conversationId: "conv-1" });

  assert.deepEqual(await subscribed, {
    event: "ack",
    requestId: frame.requestId,
    data: { action: "subscribe_conversation", conversationId: "conv-1" },
  });
});

test("replies are matched by requestId, whatever order they come in", async () => {
  const { client, socket } = await connected();
  const first = client.takeover("conv-1");
  const second = client.takeover("conv-2");
  const [one, two] = socket.sentActions("takeover_conversation");
  assert.notEqual(one.requestId, two.requestId);

  ack(socket, two, { action: "takeover_conversation", result: "second" });
  ack(socket, one, { action: "takeover_conversation", result: "first" });

  assert.equal((await first).result, "first");
  assert.equal((await second).result, "second");
});

test("a service error rejects with a RealtimeError carrying its code", async () => {
  const { client, socket } = await connected();
  const takeover = client.takeover("conv-1");
  const [frame] = socket.sentActions("takeover_conversation");

  socket.deliver({
    event: "error",
    requestId: frame.requestId,
    data: { code: "forbidden", message: "not found or not allowed" },
  });

  await assert.rejects(
    takeover,
    (error) => error instanceof RealtimeError && error.code === "forbidden" && /not allowed/.test(error.message),
  );
});

test("an action in flight when the socket drops is sent again with the same requestId after reconnecting", async () => {
  const { client, service, socket, timers } = await connected();
  const takeover = client.takeover("conv-1");
  const [sent] = socket.sentActions("takeover_conversation");

  socket.drop();
  await timers.advance(timers.pending()[0]);
  const next = await openNext(service, timers);

  const [resent] = next.sentActions("takeover_conversation");
  assert.deepEqual(resent, sent);
  assert.ok(next.sent.indexOf(next.hello) < next.sent.indexOf(resent), "hello goes first");
  ack(next, resent);
  assert.deepEqual(await takeover, { action: "takeover_conversation", result: { ok: true } });
});

test("an action whose resend is lost too rejects with disconnected", async () => {
  const { client, service, socket, timers } = await connected();
  const takeover = assert.rejects(client.takeover("conv-1"), { code: "disconnected" });

  socket.drop();
  await timers.advance(timers.pending()[0]);
  const second = await openNext(service, timers);
  assert.equal(second.sentActions("takeover_conversation").length, 1);
  second.drop();

  await takeover;
});

test("an action answered by 'connection is not registered' is not failed: it is resent on a new connection", async () => {
  const { client, service, socket, timers } = await connected();
  const takeover = client.takeover("conv-1");
  const [sent] = socket.sentActions("takeover_conversation");

  socket.deliver({
    event: "error",
    requestId: sent.requestId,
    data: { code: "forbidden", message: "connection is not registered" },
  });
  await timers.advance(timers.pending()[0]);
  const next = await openNext(service, timers);

  const [resent] = next.sentActions("takeover_conversation");
  assert.equal(resent.requestId, sent.requestId);
  ack(next, resent);
  assert.equal((await takeover).action, "takeover_conversation");
});

test("an action with no reply within actionTimeoutMs rejects with timeout; a late reply is ignored", async () => {
  const { client, socket, timers, errors } = await connected({ actionTimeoutMs: 2000 });
  const takeover = assert.rejects(client.takeover("conv-1"), { code: "timeout" });

  await timers.advance(2000);
  await takeover;
  ack(socket, socket.sentActions("takeover_conversation")[0]);

  assert.deepEqual(errors, []);
});

test("an action called before the connection is open is sent once it is", async () => {
  const { client, service, timers } = fakeClient();
  const ready = client.connect();
  const takeover = client.takeover("conv-1");
  await settle();
  assert.equal(service.last.sent.length, 0);

  const socket = await openNext(service, timers);
  await ready;

  const [frame] = socket.sentActions("takeover_conversation");
  ack(socket, frame);
  assert.equal((await takeover).action, "takeover_conversation");
});

test("ids are checked before anything is sent", async () => {
  const { client, socket } = await connected();

  assert.throws(() => client.subscribe(""), TypeError);
  assert.throws(() => client.subscribe(42), TypeError);
  assert.equal(socket.sent.length, 1);
});
