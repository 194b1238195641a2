import assert from "node:assert/strict";
import { test } from "node:test";

import { compareEventIds, isEventId } from "../../src/event-ids.js";
import { EventSequencer } from "../../src/sequencer.js";
import { event } from "../support/fakes.js";

const ids = (frames) => frames.map((frame) => frame.id);

test("event ids compare by both parts as integers, not as text", () => {
  assert.ok(compareEventIds("9-0", "10-0") < 0);
  assert.ok(compareEventIds("10-2", "10-10") < 0);
  assert.ok(compareEventIds("18446744073709551615-1", "18446744073709551615-0") > 0);
  assert.equal(compareEventIds("5-5", "5-5"), 0);
  assert.equal(isEventId("1700000000000-0"), true);
  assert.equal(isEventId("1700000000000"), false);
  assert.equal(isEventId(42), false);
});

test("each id is delivered once and lastEventId is the newest", () => {
  const sequencer = new EventSequencer();

  const delivered = [event("1-0"), event("2-0"), event("1-0"), event("2-0"), event("3-0")].flatMap((frame) =>
    sequencer.accept(frame),
  );

  assert.deepEqual(ids(delivered), ["1-0", "2-0", "3-0"]);
  assert.equal(sequencer.lastEventId, "3-0");
});

test("frames held during a resume come out sorted and without duplicates", () => {
  const sequencer = new EventSequencer();
  sequencer.accept(event("1-0"));
  sequencer.hold();

  const whileHeld = [event("9-0"), event("2-0"), event("10-0"), event("3-0"), event("9-0"), event("1-0")].flatMap(
    (frame) => sequencer.accept(frame),
  );

  assert.deepEqual(whileHeld, []);
  assert.deepEqual(ids(sequencer.release()), ["2-0", "3-0", "9-0", "10-0"]);
  assert.equal(sequencer.lastEventId, "10-0");
});

test("held frames are dropped when the connection goes away mid-resume (the next replay brings them)", () => {
  const sequencer = new EventSequencer();
  sequencer.accept(event("1-0"));
  sequencer.hold();
  sequencer.accept(event("2-0"));

  sequencer.discardHeld();

  assert.equal(sequencer.lastEventId, "1-0");
  assert.deepEqual(ids(sequencer.accept(event("2-0"))), ["2-0"]);
});

test("an older event never seen (overtaken on the wire) is still delivered once", () => {
  const sequencer = new EventSequencer();
  sequencer.accept(event("5-0"));

  assert.deepEqual(ids(sequencer.accept(event("4-0"))), ["4-0"]);
  assert.deepEqual(ids(sequencer.accept(event("4-0"))), []);
  assert.equal(sequencer.lastEventId, "5-0");
});

test("ids older than the remembered window count as seen", () => {
  const sequencer = new EventSequencer();
  for (let ms = 1; ms <= 1001; ms += 1) sequencer.accept(event(`${ms}-0`));

  assert.deepEqual(ids(sequencer.accept(event("1-0"))), []);
  assert.deepEqual(ids(sequencer.accept(event("2-0"))), []);
  assert.deepEqual(ids(sequencer.accept(event("1001-1"))), ["1001-1"]);
});
