import { test } from "node:test";
import assert from "node:assert/strict";
import { KERNEL_QUOTA_SLACK, verdict } from "../../../src/enforce/verdict.js";

const NOW = Date.parse("2026-12-04T12:00:00.000Z");

function account(up: number, down: number, limitBytes: number | null, expiresAt: string | null) {
  return {
    limitBytes,
    expiresAt,
    usage: {
      name: "a",
      uploadBytes: up,
      downloadBytes: down,
      day: "2026-12-04",
      dayUploadBytes: 0,
      dayDownloadBytes: 0,
      lastSeenAt: null,
      updatedAt: "2026-12-04T12:00:00.000Z",
    },
  };
}

test("due at the limit exactly, upload and download together; not a byte before", () => {
  assert.equal(verdict(account(400, 599, 1000, null), NOW), null);
  assert.deepEqual(verdict(account(400, 600, 1000, null), NOW), {
    over: "quota",
    reason: "Bandwidth limit exceeded: used 1000 B (1000 B) of 1000 B (1000 B)",
  });
});

test("an account without a limit or expiry is never due, whatever it used", () => {
  assert.equal(verdict(account(2 ** 52, 2 ** 52, null, null), NOW), null);
});

test("the reach of a trigger counts below the limit, and the reason says which", () => {
  const timed = verdict(account(0, 900, 1000, null), NOW, "timed", 100);
  assert.equal(timed?.over, "quota");
  assert.match(timed?.reason ?? "", /used 900 B .*, cut timed to land as it ran out$/);
  assert.equal(verdict(account(0, 899, 1000, null), NOW, "timed", 100), null);

  const limit = 20 * 1024 ** 2;
  const kernel = verdict(
    account(0, limit - KERNEL_QUOTA_SLACK, limit, null),
    NOW,
    "kernel-quota",
    KERNEL_QUOTA_SLACK,
  );
  assert.match(kernel?.reason ?? "", /, its kernel quota ran out$/);
  // A limit raised beyond the slack since the quota ran out stops the cut.
  assert.equal(
    verdict(
      account(0, limit - KERNEL_QUOTA_SLACK - 1, limit, null),
      NOW,
      "kernel-quota",
      KERNEL_QUOTA_SLACK,
    ),
    null,
  );
});

test("due on its expiry date to the millisecond; the quota reason wins when both hold", () => {
  const at = new Date(NOW).toISOString();
  assert.equal(verdict(account(0, 0, null, at), NOW - 1), null);
  assert.deepEqual(verdict(account(0, 0, null, at), NOW), {
    over: "expiry",
    reason: `Expired on ${at}`,
  });
  assert.equal(verdict(account(0, 5000, 1000, at), NOW)?.over, "quota");
});
