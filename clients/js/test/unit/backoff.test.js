import assert from "node:assert/strict";
import { test } from "node:test";

import { fullJitterDelay } from "../../src/backoff.js";

const backoff = { initialMs: 500, maxMs: 30000 };

test("the ceiling doubles with each attempt and stops at maxMs", () => {
  const ceilings = [0, 1, 2, 3, 6, 7, 50].map((attempt) => fullJitterDelay(attempt, backoff, () => 0.99999));

  assert.deepEqual(ceilings, [499, 999, 1999, 3999, 29999, 29999, 29999]);
});

test("the delay is drawn from the whole range down to zero (full jitter)", () => {
  assert.equal(fullJitterDelay(5, backoff, () => 0), 0);
  assert.equal(fullJitterDelay(5, backoff, () => 0.5), 8000);
});
