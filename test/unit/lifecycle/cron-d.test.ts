import { test } from "node:test";
import assert from "node:assert/strict";
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cronLineUser, removeCronDJobs, withoutUserJobs } from "../../../src/lifecycle/cron-d.js";

const FILE = [
  "# autoscript jobs for bob",
  "SHELL=/bin/sh",
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
  "0 0 * * * bob /usr/local/bin/xp bob",
  "*/5 * * * *\tbob\t/usr/bin/true  ",
  "@reboot bob /usr/bin/true",
  "0 0 * * * root /usr/local/bin/xp bob",
  "0 1 * * * bobby /usr/bin/true",
  "0 2 * * * alice /usr/bin/bob",
  "   ",
  "",
].join("\n");

test("reads the user field of job lines and nothing else", () => {
  assert.equal(cronLineUser("0 0 * * * bob cmd"), "bob", "five time fields then the user");
  assert.equal(cronLineUser("@daily bob cmd"), "bob", "a keyword then the user");
  assert.equal(cronLineUser("# 0 0 * * * bob cmd"), null, "a comment");
  assert.equal(cronLineUser("MAILTO=bob"), null, "an environment line");
  assert.equal(cronLineUser("   "), null, "a blank line");
});

test("removes only the lines that run as the user, keeping every other byte", () => {
  const { text, removed } = withoutUserJobs(FILE, "bob");
  assert.equal(removed.length, 3, "three bob jobs");
  assert.equal(
    text,
    [
      "# autoscript jobs for bob",
      "SHELL=/bin/sh",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
      "0 0 * * * root /usr/local/bin/xp bob",
      "0 1 * * * bobby /usr/bin/true",
      "0 2 * * * alice /usr/bin/bob",
      "   ",
      "",
    ].join("\n"),
    "root's job naming bob, bobby and alice stay",
  );
});

test("keeps CRLF line ends and a last line without a newline", () => {
  const input = "0 0 * * * alice a\r\n0 0 * * * bob b\r\n0 0 * * * carol c";
  assert.equal(withoutUserJobs(input, "bob").text, "0 0 * * * alice a\r\n0 0 * * * carol c");
  assert.equal(withoutUserJobs(input, "carol").text, "0 0 * * * alice a\r\n0 0 * * * bob b\r\n");
  assert.equal(withoutUserJobs(input, "dave").text, input, "unchanged when nothing matches");
});

test("edits the files of a cron.d folder in place, keeping mode, skipping links and dot files", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-cron-"));
  try {
    writeFileSync(join(dir, "xp"), FILE);
    chmodSync(join(dir, "xp"), 0o600);
    writeFileSync(join(dir, "other"), "0 0 * * * alice x\n");
    writeFileSync(join(dir, ".hidden"), "0 0 * * * bob x\n");
    writeFileSync(join(dir, "target"), "0 0 * * * bob x\n");
    symlinkSync(join(dir, "target"), join(dir, "link"));
    const removed = await removeCronDJobs("bob", dir);
    assert.deepEqual(
      removed.map((r) => [r.file.slice(dir.length + 1), r.lines]),
      [
        ["target", 1],
        ["xp", 3],
      ],
      "files and line counts",
    );
    assert.equal(statSync(join(dir, "xp")).mode & 0o777, 0o600, "mode kept");
    assert.equal(readFileSync(join(dir, "other"), "utf8"), "0 0 * * * alice x\n", "untouched");
    assert.equal(readFileSync(join(dir, ".hidden"), "utf8"), "0 0 * * * bob x\n", "dot file left");
    assert.deepEqual(await removeCronDJobs("bob", join(dir, "missing")), [], "no folder");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
