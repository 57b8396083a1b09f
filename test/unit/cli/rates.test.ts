import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RateTracker } from "../../../src/cli/live/rates.js";

const MiB = 1024 * 1024;
const totals = (up: number, down: number) => [
  { name: "alice", uploadBytes: up, downloadBytes: down },
];

describe("RateTracker", () => {
  test("has no rate from a single sample", () => {
    const rates = new RateTracker().update(0, totals(100, 200));
    assert.deepEqual(rates.get("alice"), { uploadPerS: null, downloadPerS: null });
  });

  test("divides the growth by the seconds between samples", () => {
    const tracker = new RateTracker();
    tracker.update(0, totals(0, 0));
    const rates = tracker.update(500, totals(MiB, 4 * MiB));
    assert.deepEqual(rates.get("alice"), { uploadPerS: 2 * MiB, downloadPerS: 8 * MiB });
  });

  test("averages over the window: a 1 s step seen every 100 ms reads steady", () => {
    // The worker stores usage once a second; top reads every 100 ms.
    const tracker = new RateTracker(2000);
    const seen: number[] = [];
    for (let ms = 0; ms <= 6000; ms += 100) {
      const stored = Math.floor(ms / 1000) * 10 * MiB; // 10 MiB/s, in 1 s steps
      const rate = tracker.update(ms, totals(0, stored)).get("alice")?.downloadPerS;
      if (ms >= 3000 && rate !== null && rate !== undefined) seen.push(rate);
    }
    for (const rate of seen) {
      assert.ok(rate > 6.5 * MiB && rate < 10.5 * MiB, `rate ${rate / MiB} MiB/s`);
    }
  });

  test("drops samples older than the window", () => {
    const tracker = new RateTracker(1000);
    tracker.update(0, totals(0, 0));
    tracker.update(1000, totals(0, 1000));
    tracker.update(2000, totals(0, 1000)); // idle for the last second
    const rate = tracker.update(2100, totals(0, 1000)).get("alice");
    assert.equal(rate?.downloadPerS, 0);
  });

  test("starts again after a usage reset instead of showing a negative rate", () => {
    const tracker = new RateTracker();
    tracker.update(0, totals(5 * MiB, 5 * MiB));
    assert.deepEqual(tracker.update(1000, totals(0, 10)).get("alice"), {
      uploadPerS: null,
      downloadPerS: null,
    });
    assert.deepEqual(tracker.update(2000, totals(1000, 1010)).get("alice"), {
      uploadPerS: 1000,
      downloadPerS: 1000,
    });
  });

  test("forgets accounts that are gone and rates new ones from their first sample", () => {
    const tracker = new RateTracker();
    tracker.update(0, totals(0, 0));
    const rates = tracker.update(1000, [{ name: "bob", uploadBytes: 10, downloadBytes: 10 }]);
    assert.deepEqual([...rates.keys()], ["bob"]);
    assert.equal(rates.get("bob")?.uploadPerS, null);
    assert.equal(tracker.update(2000, totals(50, 50)).get("alice")?.uploadPerS, null);
  });
});
