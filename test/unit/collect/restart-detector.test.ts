import { test } from "node:test";
import assert from "node:assert/strict";
import { RestartDetector } from "../../../src/collect/xray/restart-detector.js";

const mark = (uptime: number, t: number) => ({ uptime, monoMs: t * 1000, wallMs: 1e12 + t * 1000 });

test("steady uptime is the same engine", () => {
  const d = new RestartDetector();
  assert.equal(d.judge(mark(10, 0), mark(10, 0)), "same");
  assert.equal(d.judge(mark(11, 1), mark(11, 1)), "same");
  assert.equal(d.judge(mark(41, 31), mark(41, 31)), "same");
});

test("uptime going down is a restart", () => {
  const d = new RestartDetector();
  d.judge(mark(142, 0), mark(142, 0));
  assert.equal(d.judge(mark(0, 1), mark(0, 1)), "restarted");
  assert.equal(d.judge(mark(1, 2), mark(1, 2)), "same");
});

test("uptime growing much less than the time that passed is a restart", () => {
  const d = new RestartDetector();
  d.judge(mark(5, 0), mark(5, 0));
  // 60 s later the engine says 20 s: it restarted 40 s ago, while unreachable.
  assert.equal(d.judge(mark(20, 60), mark(20, 60)), "restarted");
});

test("a restart during the poll discards it and flags the next poll", () => {
  const d = new RestartDetector();
  d.judge(mark(100, 0), mark(100, 0));
  assert.equal(d.judge(mark(101, 1), mark(0, 1)), "discard");
  assert.equal(d.judge(mark(1, 2), mark(1, 2)), "restarted");
  assert.equal(d.judge(mark(2, 3), mark(2, 3)), "same");
});

test("across worker restarts the wall clock links polls with a wider margin", () => {
  const d = new RestartDetector();
  d.restore({ uptime: 100, monoMs: 999_999, wallMs: 1e12 });
  // 8 s of wall time, uptime moved 2 s: within the 10 s margin, not a restart.
  assert.equal(d.judge(mark(102, 8), mark(102, 8)), "same");
  const e = new RestartDetector();
  e.restore({ uptime: 100, monoMs: 0, wallMs: 1e12 });
  assert.equal(e.judge(mark(120, 300), mark(120, 300)), "restarted");
});
