/**
 * CutTiming on a mock clock (setTimeout and Date from 0): a cut is armed only when the next fast
 * poll would see the crossing too late, and fires the cut latency ahead of it.
 */
import { afterEach, beforeEach, mock, test } from "node:test";
import assert from "node:assert/strict";
import { CutTiming } from "../../../src/enforce/cut-timing.js";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 }));
afterEach(() => mock.timers.reset());

function timing(fastPollMs = 10) {
  const started: { name: string; atMs: number }[] = [];
  const t = new CutTiming(fastPollMs, (name) => started.push({ name, atMs: Date.now() }));
  return { t, started };
}

test("a steady 100 MB/s transfer: the cut starts the cut latency before the crossing", () => {
  const { t, started } = timing(10);
  const rate = 100_000; // bytes per ms
  const limit = 20_000_000; // crossed at 200 ms
  for (let now = 0; now < 300 && started.length === 0; now += 10) {
    t.observe("vl", rate * now, limit, now);
    if (now < 150) assert.equal(started.length, 0, `nothing armed at ${now} ms: a poll sees it`);
    for (let ms = 0; ms < 10; ms++) mock.timers.tick(1);
  }
  assert.equal(started.length, 1, "one timed cut");
  // Armed at 170 ms (3 MB left: 30 ms at its pace, less 12 ms of latency, is within two polls).
  const at = started[0]?.atMs ?? 0;
  assert.ok(at >= 188 && at <= 189, `at the crossing (200 ms) less the latency guess: ${at} ms`);
});

test("no timer for a transfer that does not move; reach follows pace and latency", () => {
  const { t, started } = timing(10);
  assert.equal(t.reach("x"), 0, "unknown pace reaches nothing");
  t.observe("x", 1000, 2000, 0);
  t.observe("x", 1000, 2000, 10);
  mock.timers.tick(1000);
  assert.equal(started.length, 0, "a transfer that does not move is never cut by time");
  t.observe("y", 0, 10_000_000, 0);
  t.observe("y", 100_000, 10_000_000, 10); // a 10,000 B/ms sample, smoothed to 5,000
  assert.equal(t.reach("y"), 5_000 * (12 + 10));
  t.measured(22);
  assert.equal(t.latencyMs, 0.7 * 12 + 0.3 * 22);
  t.forgetPaces();
  assert.equal(t.reach("y"), 0, "paces forgotten");
});

test("an armed cut fires once", () => {
  const { t, started } = timing(10);
  t.observe("a", 0, 1_000_000, 0);
  t.observe("a", 500_000, 1_000_000, 10); // 25,000 B/ms smoothed: 20 ms left, armed
  t.observe("a", 600_000, 1_000_000, 11); // armed already: no second timer
  mock.timers.tick(1000);
  assert.deepEqual(
    started.map((c) => c.name),
    ["a"],
  );
});

test("stop() disarms every armed cut", () => {
  const { t, started } = timing(10);
  for (const name of ["a", "b"]) {
    t.observe(name, 0, 1_000_000, 0);
    t.observe(name, 500_000, 1_000_000, 10);
  }
  t.stop();
  mock.timers.tick(1000);
  assert.deepEqual(started, [], "nothing fires after stop()");
});
