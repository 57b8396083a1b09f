import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import type { CounterReading } from "../../../src/store/store.js";

const AT = "2026-12-03T10:00:00.000Z";

function freshStore(): { store: SqliteStore; path: string; done: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), "kuota-store-"));
  const path = join(dir, "kuota.db");
  const store = new SqliteStore(path);
  return {
    store,
    path,
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const reading = (account: string, direction: "up" | "down", raw: number): CounterReading => ({
  counter: `user>>>${account}>>>traffic>>>${direction === "up" ? "uplink" : "downlink"}`,
  account,
  direction,
  raw,
});

function batch(readings: CounterReading[], opts: { restarted?: boolean; day?: string } = {}) {
  return {
    source: "xray",
    readings,
    sourceRestarted: opts.restarted ?? false,
    day: opts.day ?? "2026-12-03",
    at: AT,
  };
}

test("adds deltas against the last raw value, never the raw value twice", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "alice", protocol: "vless" }], AT);
  await store.applyCounters(batch([reading("alice", "up", 100), reading("alice", "down", 1000)]));
  await store.applyCounters(batch([reading("alice", "up", 150), reading("alice", "down", 1000)]));
  await store.applyCounters(batch([reading("alice", "up", 150), reading("alice", "down", 4000)]));
  const a = await store.getAccount("alice");
  assert.equal(a?.usage.uploadBytes, 150);
  assert.equal(a?.usage.downloadBytes, 4000);
  await done();
});

test("after a source restart, raw values count whole on top of the stored totals", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "alice", protocol: "vless" }], AT);
  await store.applyCounters(batch([reading("alice", "down", 5000)]));
  // The engine restarted and alice already moved 7000 bytes: more than before.
  await store.applyCounters(batch([reading("alice", "down", 7000)], { restarted: true }));
  assert.equal((await store.getAccount("alice"))?.usage.downloadBytes, 12_000);
  await store.applyCounters(batch([reading("alice", "down", 7500)]));
  assert.equal((await store.getAccount("alice"))?.usage.downloadBytes, 12_500);
  await done();
});

test("a counter below its baseline is taken as reset and counted whole", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "bob", protocol: "vmess" }], AT);
  await store.applyCounters(batch([reading("bob", "up", 900)]));
  await store.applyCounters(batch([reading("bob", "up", 40)]));
  assert.equal((await store.getAccount("bob"))?.usage.uploadBytes, 940);
  await done();
});

test("traffic of a name adopted later is counted from the counter's start", async () => {
  const { store, done } = freshStore();
  await store.applyCounters(batch([reading("carol", "down", 300)]));
  await store.adoptAccounts([{ name: "carol", protocol: "trojan" }], AT);
  await store.applyCounters(batch([reading("carol", "down", 500)]));
  assert.equal((await store.getAccount("carol"))?.usage.downloadBytes, 500);
  await done();
});

test("a deleted and re-created account does not inherit the engine's old counter", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "dave", protocol: "vless" }], AT);
  await store.applyCounters(batch([reading("dave", "down", 10_000)]));
  await store.removeAccount("dave");
  await store.createAccount(
    { name: "dave", protocol: "vless", origin: "created", limitBytes: 1 << 20, expiresAt: null },
    AT,
  );
  await store.applyCounters(batch([reading("dave", "down", 10_250)]));
  assert.equal((await store.getAccount("dave"))?.usage.downloadBytes, 250);
  await done();
});

test("two accounts in one batch never mix", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts(
    [
      { name: "a1", protocol: "vless" },
      { name: "a2", protocol: "vmess" },
    ],
    AT,
  );
  const res = await store.applyCounters(
    batch([reading("a1", "down", 111), reading("a2", "down", 222), reading("a2", "up", 3)]),
  );
  assert.deepEqual(res.changed.map((u) => [u.name, u.uploadBytes, u.downloadBytes]).sort(), [
    ["a1", 0, 111],
    ["a2", 3, 222],
  ]);
  await done();
});

test("daily usage starts at zero on a new local date; totals do not", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "erin", protocol: "ssh" }], AT);
  await store.applyCounters(batch([reading("erin", "down", 100)], { day: "2026-12-03" }));
  await store.applyCounters(batch([reading("erin", "down", 130)], { day: "2026-12-04" }));
  const u = (await store.getAccount("erin"))?.usage;
  assert.equal(u?.day, "2026-12-04");
  assert.equal(u?.dayDownloadBytes, 30);
  assert.equal(u?.downloadBytes, 130);
  await done();
});

test("collector state is written in the same transaction as the counters", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "fay", protocol: "vless" }], AT);
  await store.applyCounters({ ...batch([reading("fay", "up", 1)]), state: { "xray.mark": "42" } });
  assert.equal(await store.getState("xray.mark"), "42");
  await done();
});

test("a second connection reads while the worker's connection writes (WAL, busy timeout)", async () => {
  const { store, path, done } = freshStore();
  await store.adoptAccounts([{ name: "gus", protocol: "vless" }], AT);
  const reader = new SqliteStore(path);
  for (let i = 1; i <= 200; i++) {
    await store.applyCounters(batch([reading("gus", "down", i * 10)]));
    const seen = await reader.getAccount("gus");
    assert.equal(seen?.usage.downloadBytes, i * 10);
  }
  await reader.close();
  await done();
});

test("limits: reset only when asked", async () => {
  const { store, done } = freshStore();
  await store.adoptAccounts([{ name: "hal", protocol: "vless" }], AT);
  await store.applyCounters(batch([reading("hal", "down", 500)]));
  await store.setLimit("hal", 1000, false, AT);
  assert.equal((await store.getAccount("hal"))?.usage.downloadBytes, 500);
  await store.setLimit("hal", 2000, true, AT);
  const a = await store.getAccount("hal");
  assert.equal(a?.limitBytes, 2000);
  assert.equal(a?.usage.downloadBytes, 0);
  await done();
});

test("deletion events stay pending until acknowledged", async () => {
  const { store, done } = freshStore();
  const id = await store.recordEvent({
    kind: "deleted",
    account: "ivy",
    protocol: "ssh",
    reason: "Bandwidth limit exceeded",
    usedBytes: 10,
    limitBytes: 5,
    at: AT,
  });
  assert.deepEqual(
    (await store.pendingEvents(10)).map((e) => e.id),
    [id],
  );
  await store.ackEvents([id], AT);
  assert.equal((await store.pendingEvents(10)).length, 0);
  await done();
});

test("a locked account keeps its clients until unlocked, and discovery leaves it present", async () => {
  const { store, done } = freshStore();
  try {
    await store.adoptAccounts([{ name: "bob", protocol: "vless" }], AT);
    const client = { inbound: "vless-in", client: { id: "uuid-1", email: "bob" } };
    await store.saveLockedClients("bob", [client]);
    await store.setAccountState("bob", "locked", AT);
    assert.equal((await store.getAccount("bob"))?.state, "locked");
    assert.deepEqual(await store.lockedClients("bob"), [client]);
    // Out of the engine config on purpose: not marked absent.
    assert.deepEqual(await store.markAbsent(["vless"], new Set(), AT), []);
    await store.adoptAccounts([{ name: "bob", protocol: "vless" }], AT);
    assert.equal((await store.getAccount("bob"))?.state, "locked", "discovery does not unlock");
    await store.setAccountState("bob", "active", AT);
    assert.equal((await store.getAccount("bob"))?.state, "active");
    assert.deepEqual(await store.lockedClients("bob"), [], "unlocking forgets the clients");
  } finally {
    await done();
  }
});
