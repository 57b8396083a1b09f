import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageFiles, usageDocument } from "../../../src/export/usage-files.js";
import { isSafeFileName } from "../../../src/export/safe-name.js";
import { silentLogger } from "../../../src/core/log.js";
import type { AccountWithUsage } from "../../../src/store/store.js";

function account(name: string, up: number, down: number, day = "2026-12-03"): AccountWithUsage {
  return {
    name,
    protocol: "vless",
    origin: "adopted",
    limitBytes: null,
    expiresAt: null,
    state: "active",
    present: true,
    createdAt: "2026-12-01T00:00:00.000Z",
    updatedAt: "2026-12-01T00:00:00.000Z",
    usage: {
      name,
      uploadBytes: up,
      downloadBytes: down,
      day,
      dayUploadBytes: up,
      dayDownloadBytes: down,
      lastSeenAt: null,
      updatedAt: "2026-12-03T10:00:00.000Z",
    },
  };
}

test("the document has the contract's fields; total is upload plus download", () => {
  const doc = usageDocument(account("alice", 5, 7), "2026-12-03");
  assert.deepEqual(Object.keys(doc), [
    "username",
    "protocol",
    "limit_bytes",
    "total_usage",
    "daily_usage",
    "created_at",
    "updated_at",
  ]);
  assert.deepEqual(doc.total_usage, { upload_bytes: 5, download_bytes: 7, total_bytes: 12 });
  assert.equal(doc.limit_bytes, null);
});

test("daily usage reads zero once the date has moved on", () => {
  const doc = usageDocument(account("alice", 5, 7, "2026-12-02"), "2026-12-03");
  assert.deepEqual(doc.daily_usage, {
    date: "2026-12-03",
    upload_bytes: 0,
    download_bytes: 0,
    total_bytes: 0,
  });
});

test("names that could escape the folder are never written", async () => {
  for (const bad of ["../x", "/", "a/b", "", ".", "..", "a\0b", ".hidden", "x".repeat(65)]) {
    assert.equal(isSafeFileName(bad), false, bad);
  }
  const dir = mkdtempSync(join(tmpdir(), "kuota-usage-"));
  const files = new UsageFiles(
    dir,
    { getAccount: async (n) => account(n, 1, 2), listAccounts: async () => [] },
    silentLogger,
  );
  files.markDirty(["../escape", "ok.user"]);
  await files.flush(true);
  assert.deepEqual(readdirSync(join(dir, "usage")), ["ok.user.json"]);
  assert.equal(existsSync(join(dir, "escape.json")), false);
  const doc = JSON.parse(readFileSync(join(dir, "usage", "ok.user.json"), "utf8"));
  assert.equal(doc.total_usage.total_bytes, 3);
});

test("each file is written at most once a second", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-usage-"));
  let loads = 0;
  const files = new UsageFiles(
    dir,
    {
      getAccount: async (n) => {
        loads++;
        return account(n, loads, 0);
      },
      listAccounts: async () => [],
    },
    silentLogger,
  );
  files.markDirty(["alice"]);
  await files.flush(false);
  files.markDirty(["alice"]);
  await files.flush(false);
  assert.equal(loads, 1);
  await files.flush(true);
  assert.equal(loads, 2);
});

test("past its time budget a flush leaves the rest for the next, oldest first, never stalling", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-usage-"));
  const written: string[] = [];
  const files = new UsageFiles(
    dir,
    {
      getAccount: async (n) => {
        written.push(n);
        return account(n, 1, 1);
      },
      listAccounts: async () => [],
    },
    silentLogger,
    0, // a zero budget: one file per flush
  );
  files.markDirty(["a", "b", "c"]);
  await files.flush(false);
  assert.deepEqual(written, ["a"], "one file per flush when the budget is spent at once");
  files.markDirty(["a"]);
  await files.flush(false);
  await files.flush(false);
  assert.deepEqual(written, ["a", "b", "c"], "the ones waiting longest come first");
  files.markDirty(["a", "b", "c", "d"]);
  await files.flush(true);
  assert.deepEqual(written.slice(3).sort(), ["a", "b", "c", "d"], "a final flush writes all");
  assert.deepEqual(readdirSync(join(dir, "usage")).sort(), [
    "a.json",
    "b.json",
    "c.json",
    "d.json",
  ]);
});

test("after a restart a file already holding the figures is left alone; a stale one is replaced", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-usage-"));
  const figures = new Map([
    ["same", account("same", 1, 2)],
    ["moved", account("moved", 1, 2)],
  ]);
  const store = {
    getAccount: async (n: string) => figures.get(n) ?? null,
    listAccounts: async () => [...figures.values()],
  };
  const first = new UsageFiles(dir, store, silentLogger);
  first.markDirty(["same", "moved"]);
  await first.flush(true);
  const inode = (n: string) => statSync(join(dir, "usage", `${n}.json`)).ino;
  const before = { same: inode("same"), moved: inode("moved") };

  figures.set("moved", account("moved", 10, 20));
  const restarted = new UsageFiles(dir, store, silentLogger);
  restarted.markDirty(["same", "moved"]);
  await restarted.flush(true);
  assert.equal(inode("same"), before.same, "unchanged figures: the same file, not replaced");
  assert.notEqual(inode("moved"), before.moved, "new figures: replaced");
  const doc = JSON.parse(readFileSync(join(dir, "usage", "moved.json"), "utf8"));
  assert.equal(doc.total_usage.total_bytes, 30);
});
