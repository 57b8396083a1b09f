/**
 * The enforcer's timing without the engine: expiry dates are acted on when they come, a failed
 * cut is retried on its own timer, and a limit change is seen at once. The store is the real
 * SQLite store; the cut is recorded instead of run (the lifecycle's delete has its own tests).
 */
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Enforcer, type CutAccount } from "../../../src/enforce/enforcer.js";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../../src/core/log.js";
import type { WorkerContext } from "../../../src/worker/worker.js";
import type { Usage } from "../../../src/store/store.js";
import type { DeletionReport } from "../../../src/control/api.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

type Cut = { name: string; reason: string; atMs: number };

async function setup(cut?: (name: string) => DeletionReport) {
  const dir = mkdtempSync(join(tmpdir(), "kuota-enforcer-"));
  const store = new SqliteStore(join(dir, "kuota.db"));
  const cuts: Cut[] = [];
  const usageListeners: ((changed: Usage[]) => void)[] = [];
  const accountListeners: (() => void)[] = [];
  const ctx = {
    config: {
      pollMs: 1000,
      fastPollMs: 10,
      linkMbps: 1000,
      onLimit: "delete",
      xrayConfig: join(dir, "missing-config.json"),
      xrayAccessLog: join(dir, "access.log"),
    },
    log: silentLogger,
    store,
    xray: {
      pollOnce: async () => undefined,
      pollAccounts: async () => undefined,
      engine: () => null,
    },
    usageListeners,
    accountListeners,
  } as unknown as WorkerContext;
  const started = performance.now();
  const record: CutAccount = async (name, reason) => {
    cuts.push({ name, reason, atMs: performance.now() - started });
    const report = cut?.(name) ?? { account: name, protocol: "vless", steps: [], complete: true };
    if (report.complete) await store.removeAccount(name);
    return report;
  };
  const enforcer = new Enforcer(ctx, record);
  cleanups.push(async () => {
    await enforcer.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const add = (name: string, limitBytes: number | null, expiresAt: string | null) =>
    store.createAccount(
      { name, protocol: "vless", origin: "created", limitBytes, expiresAt },
      new Date().toISOString(),
    );
  const changed = () => accountListeners.forEach((l) => l());
  return { store, enforcer, cuts, add, changed, usageListeners, started };
}

test("an account is cut when its expiry date comes, not before", async () => {
  const s = await setup();
  await s.add("later", null, new Date(Date.now() + 400).toISOString());
  await s.add("never", 10 ** 12, null);
  await s.enforcer.start();
  await sleep(200);
  assert.equal(s.cuts.length, 0, "nothing cut before the date");
  for (let i = 0; i < 40 && s.cuts.length === 0; i++) await sleep(50);
  assert.equal(s.cuts.length, 1);
  assert.equal(s.cuts[0]?.name, "later");
  assert.match(s.cuts[0]?.reason ?? "", /^Expired on /);
  assert.ok((s.cuts[0]?.atMs ?? 0) >= 380, `cut at ${s.cuts[0]?.atMs.toFixed(0)} ms`);
});

test("an expiry date set while running is seen at the change, not at the next refresh", async () => {
  const s = await setup();
  await s.add("alice", null, null);
  await s.enforcer.start();
  s.store.db
    .prepare("UPDATE accounts SET expires_at = ? WHERE name = ?")
    .run(new Date(Date.now() + 200).toISOString(), "alice");
  s.changed();
  for (let i = 0; i < 40 && s.cuts.length === 0; i++) await sleep(50);
  assert.deepEqual(
    s.cuts.map((c) => c.name),
    ["alice"],
  );
});

test("a failed cut is retried after 1 s, and a partial one until it completes", async () => {
  let calls = 0;
  const s = await setup((name) => ({
    account: name,
    protocol: "vless",
    steps: [{ step: "config", ok: ++calls > 2, detail: "config locked" }],
    complete: calls > 2,
  }));
  await s.add("over", 1000, new Date(Date.now() - 1000).toISOString());
  await s.enforcer.start();
  for (let i = 0; i < 160 && s.cuts.length < 3; i++) await sleep(50);
  assert.equal(s.cuts.length, 3, "two partial cuts, then a complete one");
  const gapMs = (s.cuts[1]?.atMs ?? 0) - (s.cuts[0]?.atMs ?? 0);
  assert.ok(gapMs >= 950 && gapMs < 3000, `first retry after ${gapMs.toFixed(0)} ms`);
  await sleep(1200);
  assert.equal(s.cuts.length, 3, "no cut after the complete one");
});

test("usage that reaches the limit is cut at once; usage below it is not", async () => {
  const s = await setup();
  await s.add("bob", 5000, null);
  await s.add("carol", 5000, null);
  await s.enforcer.start();
  const usage = (name: string, bytes: number): Usage => ({
    name,
    uploadBytes: 0,
    downloadBytes: bytes,
    day: "2026-12-04",
    dayUploadBytes: 0,
    dayDownloadBytes: bytes,
    lastSeenAt: null,
    updatedAt: new Date().toISOString(),
  });
  for (const listener of s.usageListeners) listener([usage("bob", 5000), usage("carol", 4999)]);
  await sleep(100);
  assert.deepEqual(
    s.cuts.map((c) => c.name),
    [],
    "the store still shows them within: the cut re-reads the account first",
  );
  s.store.db.prepare("UPDATE usage SET down_bytes = 5000 WHERE name = 'bob'").run();
  s.store.db.prepare("UPDATE usage SET down_bytes = 4999 WHERE name = 'carol'").run();
  for (const listener of s.usageListeners) listener([usage("bob", 5000), usage("carol", 4999)]);
  await sleep(100);
  assert.deepEqual(
    s.cuts.map((c) => c.name),
    ["bob"],
  );
  assert.match(
    s.cuts[0]?.reason ?? "",
    /Bandwidth limit exceeded: used .* \(5000 B\) of .* \(5000 B\)/,
  );
});
