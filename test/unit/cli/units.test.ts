import assert from "node:assert/strict";
import { test } from "node:test";
import { compactBytes, compactDuration, compactRate } from "../../../src/cli/live/units.js";

test("compactBytes keeps three significant digits in at most five characters", () => {
  const cases: [number, string][] = [
    [0, "0B"],
    [1023, "1023B"],
    [1024, "1.00K"],
    [1536, "1.50K"],
    [10 * 1024 * 1024 - 1, "10.0M"],
    [100 * 1024 ** 3, "100G"],
    [1023.9 * 1024, "1024K"],
    [-5, "0B"],
    [Number.NaN, "0B"],
  ];
  for (const [bytes, text] of cases) assert.equal(compactBytes(bytes), text, String(bytes));
  for (let bytes = 1; bytes < 1024 ** 5; bytes = Math.ceil(bytes * 1.37)) {
    assert.ok(compactBytes(bytes).length <= 5, `${bytes} → ${compactBytes(bytes)}`);
  }
});

test("compactRate reads - until a rate is known", () => {
  assert.equal(compactRate(null), "-");
  assert.equal(compactRate(2048), "2.00K");
});

test("compactDuration shows the two largest units", () => {
  assert.equal(compactDuration(45), "45s");
  assert.equal(compactDuration(725), "12m05s");
  assert.equal(compactDuration(3 * 3600 + 7 * 60 + 9), "3h07m");
  assert.equal(compactDuration(12 * 86400 + 4 * 3600), "12d04h");
});
