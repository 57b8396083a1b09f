import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSince } from "../../../src/cli/commands/hosts.js";
import { UsageError } from "../../../src/core/errors.js";

test("--since takes durations, local dates and ISO times", () => {
  const now = new Date("2026-12-03T12:00:00.000Z");
  assert.equal(parseSince("30m", now), "2026-12-03T11:30:00.000Z");
  assert.equal(parseSince("12h", now), "2026-12-03T00:00:00.000Z");
  assert.equal(parseSince("7d", now), "2026-11-26T12:00:00.000Z");
  assert.equal(
    parseSince("2026-12-01", now),
    new Date(2026, 11, 1).toISOString(),
    "local midnight",
  );
  assert.equal(parseSince("2026-12-01T05:00:00Z", now), "2026-12-01T05:00:00.000Z");
  assert.throws(() => parseSince("yesterday", now), UsageError);
});
