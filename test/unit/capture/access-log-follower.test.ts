import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessLogFollower, type LogPosition } from "../../../src/capture/access-log-follower.js";

function harness(position: LogPosition | null = null) {
  const dir = mkdtempSync(join(tmpdir(), "kuota-follow-"));
  const path = join(dir, "access.log");
  const lines: string[] = [];
  let last: LogPosition | null = null;
  const follower = new AccessLogFollower({
    path,
    position,
    onLines: (batch, at) => {
      lines.push(...batch);
      last = at;
    },
  });
  return {
    path,
    lines,
    follower,
    position: () => last,
    done: async () => {
      await follower.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("waits for the file, reads whole lines only, and follows growth", async () => {
  const h = harness();
  try {
    await h.follower.poll();
    assert.match(h.follower.problem ?? "", /ENOENT/, "a missing file is a problem, not an error");
    writeFileSync(h.path, "one\ntwo\nthr");
    await h.follower.poll();
    assert.deepEqual(h.lines, ["one", "two"], "the partial line waits");
    assert.equal(h.position()?.offset, 8, "position after the last whole line");
    appendFileSync(h.path, "ee\n");
    await h.follower.poll();
    assert.deepEqual(h.lines, ["one", "two", "three"]);
  } finally {
    await h.done();
  }
});

test("finishes a rotated file, then reads the new one from its start", async () => {
  const h = harness();
  try {
    writeFileSync(h.path, "a\n");
    await h.follower.poll();
    appendFileSync(h.path, "b\n");
    renameSync(h.path, `${h.path}.1`);
    writeFileSync(h.path, "c\n");
    await h.follower.poll();
    assert.deepEqual(h.lines, ["a", "b", "c"], "nothing lost across rotation");
    truncateSync(h.path, 0);
    appendFileSync(h.path, "d\n");
    await h.follower.poll();
    assert.deepEqual(h.lines, ["a", "b", "c", "d"], "copytruncate starts over");
  } finally {
    await h.done();
  }
});

test("resumes from a stored position of the same file, and from the start of another", async () => {
  const h = harness();
  writeFileSync(h.path, "old1\nold2\n");
  const ino = statSync(h.path).ino;
  await h.done();
  const dir = mkdtempSync(join(tmpdir(), "kuota-follow-"));
  try {
    const path = join(dir, "access.log");
    writeFileSync(path, "old1\nold2\nnew\n");
    const read: string[] = [];
    const same = new AccessLogFollower({
      path,
      position: { ino: statSync(path).ino, offset: 10 },
      onLines: (batch) => void read.push(...batch),
    });
    await same.poll();
    await same.stop();
    assert.deepEqual(read, ["new"], "resumed at the stored offset");
    const other = new AccessLogFollower({
      path,
      position: { ino: ino + 1_000_000, offset: 10 },
      onLines: (batch) => void read.push(...batch),
    });
    await other.poll();
    await other.stop();
    assert.deepEqual(read, ["new", "old1", "old2", "new"], "another inode is read whole");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
