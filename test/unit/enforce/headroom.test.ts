import { test } from "node:test";
import assert from "node:assert/strict";
import { hotAccounts, mbpsToBytesPerSecond, reachBytes } from "../../../src/enforce/headroom.js";

const GiB = 1024 ** 3;
const policy = { linkBytesPerSecond: mbpsToBytesPerSecond(1000), pollMs: 1000 };

test("1 Gbit/s for two 1 s intervals reaches 250 MB", () => {
  assert.equal(reachBytes(policy), 250_000_000);
});

test("only accounts that could run out before the next regular poll are hot", () => {
  const hot = hotAccounts(
    [
      { name: "far", limitBytes: 10 * GiB, usedBytes: 1 * GiB },
      { name: "near", limitBytes: 10 * GiB, usedBytes: 10 * GiB - 100_000_000 },
      { name: "over", limitBytes: 1000, usedBytes: 5000 },
      { name: "edge", limitBytes: 250_000_000, usedBytes: 0 },
    ],
    policy,
  );
  assert.deepEqual(hot, ["near", "over", "edge"]);
});

test("a faster regular poll makes fewer accounts hot", () => {
  const accounts = [{ name: "a", limitBytes: 100_000_000, usedBytes: 0 }];
  assert.deepEqual(hotAccounts(accounts, policy), ["a"]);
  assert.deepEqual(hotAccounts(accounts, { ...policy, pollMs: 100 }), []);
});
