import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LogFileFollower } from "../../../src/collect/ssh/log-file-follower.js";
import { parseLoginLine } from "../../../src/collect/ssh/login-line.js";
import { silentLogger } from "../../../src/core/log.js";

const dir = mkdtempSync(join(tmpdir(), "kuota-follower-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The collector's state table, in memory. */
function memoryState() {
  const state = new Map<string, string>();
  return {
    state,
    getState: async (key: string) => state.get(key) ?? null,
    setState: async (key: string, value: string) => void state.set(key, value),
  };
}

let files = 0;
function follow(path: string, store = memoryState()) {
  const lines: string[] = [];
  const follower = new LogFileFollower({
    path,
    store,
    stateKey: "pos",
    log: silentLogger,
    pollMs: 20,
  });
  return {
    follower,
    lines,
    store,
    start: () => follower.start(async (l) => void lines.push(...l)),
  };
}

async function until(test: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !test(); i++) await sleep(10);
  assert.ok(test(), what);
}

function newFile(text = ""): string {
  const path = join(dir, `auth-${++files}.log`);
  writeFileSync(path, text);
  return path;
}

describe("LogFileFollower", () => {
  it("reads a new file from its start and then every appended line, whole lines only", async () => {
    const path = newFile("one\ntwo\n");
    const f = follow(path);
    await f.start();
    assert.deepEqual(f.lines, ["one", "two"]);
    appendFileSync(path, "thr");
    await sleep(80);
    assert.deepEqual(f.lines, ["one", "two"], "half a line waits");
    appendFileSync(path, "ee\nfour\n");
    await until(() => f.lines.length === 4, "the rest arrives");
    assert.deepEqual(f.lines, ["one", "two", "three", "four"]);
    await f.follower.stop();
  });

  it("resumes where it stopped: nothing missed, nothing read twice", async () => {
    const path = newFile("a\nb\n");
    const store = memoryState();
    const first = follow(path, store);
    await first.start();
    await first.follower.stop();
    appendFileSync(path, "c\n");
    const second = follow(path, store);
    await second.start();
    assert.deepEqual(second.lines, ["c"]);
    await second.follower.stop();
  });

  it("finishes a file rotated while stopped, found by its inode, then reads the new one", async () => {
    const path = newFile("a\n");
    const store = memoryState();
    const first = follow(path, store);
    await first.start();
    await first.follower.stop();
    appendFileSync(path, "b\n");
    renameSync(path, `${path}.1`);
    writeFileSync(path, "c\n");
    const second = follow(path, store);
    await second.start();
    assert.deepEqual(second.lines, ["b", "c"]);
    await second.follower.stop();
  });

  it("follows a rename rotation: the old file's last lines, then the new file", async () => {
    const path = newFile("a\n");
    const f = follow(path);
    await f.start();
    appendFileSync(path, "b\nunfinished");
    renameSync(path, `${path}.1`);
    writeFileSync(path, "c\n");
    await until(() => f.lines.length === 4, "all lines arrive");
    assert.deepEqual(f.lines, ["a", "b", "unfinished", "c"]);
    await f.follower.stop();
  });

  it("starts over after a truncation (copytruncate)", async () => {
    const path = newFile("a long first line\n");
    const f = follow(path);
    await f.start();
    truncateSync(path, 0);
    await sleep(60);
    appendFileSync(path, "b\n");
    await until(() => f.lines.length === 2, "the new line arrives");
    assert.deepEqual(f.lines, ["a long first line", "b"]);
    await f.follower.stop();
  });

  it("drops lines over 16 KiB, also when they arrive in pieces, and keeps going", async () => {
    const path = newFile("x".repeat(40_000));
    const f = follow(path);
    await f.start();
    appendFileSync(path, "y".repeat(70_000) + "\nafter\n" + "z".repeat(20_000) + "\nlast\n");
    await until(() => f.lines.includes("last"), "lines after the long ones arrive");
    assert.deepEqual(f.lines, ["after", "last"]);
    await f.follower.stop();
  });

  it("waits for a missing file and says why meanwhile", async () => {
    const path = join(dir, "not-yet.log");
    const f = follow(path);
    await f.start();
    assert.match(f.follower.problem ?? "", /cannot read/);
    writeFileSync(path, "hello\n");
    await until(() => f.lines.length === 1, "the file is read once it exists");
    assert.equal(f.follower.problem, null);
    await f.follower.stop();
  });

  it("delivers hostile lines to the parser, which refuses them without throwing", async () => {
    const hostile = [
      `Accepted password for ${"a".repeat(1024)} from 10.0.0.1 port 1 ssh2`,
      "Accepted password for $(reboot) from 10.0.0.1 port 2 ssh2",
      `Accepted password for a'b"c from 10.0.0.1 port 3 ssh2`,
      "Password auth succeeded for 'x y' from 10.0.0.1:4",
      "Accepted password for alice from 10.0.",
      "\u0000\u00ff\ud800 binary",
    ];
    const path = newFile(hostile.join("\n") + "\n");
    const f = follow(path);
    await f.start();
    assert.equal(f.lines.length, hostile.length);
    assert.deepEqual(
      f.lines.map((l) => parseLoginLine(l)),
      hostile.map(() => null),
    );
    await f.follower.stop();
  });
});
