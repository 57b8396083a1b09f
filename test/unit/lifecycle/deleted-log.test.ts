import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import {
  appendDeletedLog,
  deletedLogLine,
  parseDeletedLine,
  readDeletedLog,
} from "../../../src/lifecycle/deleted-log.js";

const AT = new Date(2026, 11, 7, 9, 5, 3); // local time

test("formats one line: local time, upper-case protocol, name, details", () => {
  assert.equal(
    deletedLogLine(AT, "vless", "alice", "reason: quota exceeded; engine: removed"),
    "2026-12-07 09:05:03 | VLESS | alice | reason: quota exceeded; engine: removed\n",
  );
});

test("details lose pipes, line breaks and control characters", () => {
  const line = deletedLogLine(AT, "ssh", "bob", "a | b\nc\r\nd\u0000e\u2028f\t g");
  assert.equal(line, "2026-12-07 09:05:03 | SSH | bob | a / b c d e f g\n");
});

test("any details give exactly one line of four fields that reads back", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (details) => {
      const line = deletedLogLine(AT, "trojan", "carol", details);
      assert.equal(line.indexOf("\n"), line.length - 1, "one line");
      const entry = parseDeletedLine(line.slice(0, -1));
      assert.ok(entry, "parses back");
      assert.equal(entry.name, "carol", "name field");
      assert.equal(entry.details.includes("|"), false, "no pipe in details");
    }),
    { numRuns: 5000 },
  );
});

test("reads the latest entries back, newest first, skipping foreign lines", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-deleted-"));
  try {
    const path = join(dir, "deleted.log");
    assert.deepEqual(await readDeletedLog(path, 5), [], "no file yet");
    await appendDeletedLog(path, deletedLogLine(AT, "ssh", "a1", "first"));
    await appendDeletedLog(path, "hand-written note\n");
    await appendDeletedLog(path, deletedLogLine(AT, "vmess", "a2", "second"));
    await appendDeletedLog(path, deletedLogLine(AT, "vless", "a3", "third"));
    const entries = await readDeletedLog(path, 2);
    assert.deepEqual(
      entries.map((e) => [e.protocol, e.name, e.details]),
      [
        ["VLESS", "a3", "third"],
        ["VMESS", "a2", "second"],
      ],
      "newest first",
    );
    assert.equal(readFileSync(path, "utf8").split("\n").length, 5, "appended, four lines");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
