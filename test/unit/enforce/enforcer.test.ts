/**
 * The enforcer's timing without the engine: expiry dates are acted on when they come, a failed
 * cut is retried on its own timer, and a limit change is seen at once. The store is the real
 * SQLite store; the cut is recorded instead of run (the lifecycle's delete has its own tests).
 * The clock is node:test's mock (setTimeout and Date), so "not before the date" is exact and a
 * loaded machine cannot make it flaky; real I/O still completes between ticks (see `settle`).
 */
import { afterEach, mock, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as turn } from "node:timers/promises";
import { Enforcer, type CutAccount } from "../../../src/enforce/enforcer.js";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../../src/core/log.js";
import type { WorkerContext } from "../../../src/worker/worker.js";
import type { Usage } from "../../../src/store/store.js";
import type { DeletionReport } from "../../../src/control/api.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  mock.timers.reset();
});

type Cut = { name: string; reason: string; atMs: number };

/** The real timer, kept before the mock replaces it: waiting for I/O must not move the mock clock. */
const realSetTimeout = globalThis.setTimeout;

/**
 * Lets promise chains and real I/O (the store, a stat of the config) run while the mock clock
 * stands still: however long they take in real time, they see the same mock "now".
 */
async function settle(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10; i++) await turn();
    await new Promise((resolve) => realSetTimeout(resolve, 2));
  }
}

/** Settles until `done` holds (bounded in real time), without moving the mock clock. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !done(); i++) await settle();
  assert.ok(done(), what);
  await settle();
}

/** Moves the mock clock in steps, settling after each, so timers armed on the way fire in order. */
async function advance(ms: number, stepMs = 50): Promise<void> {
  for (let left = ms; left > 0; left -= stepMs) {
    mock.timers.tick(Math.min(stepMs, left));
    await settle();
  }
}

async function setup(cut?: (name: string) => DeletionReport) {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: Date.now() });
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
  const started = Date.now();
  const record: CutAccount = async (name, reason) => {
    cuts.push({ name, reason, atMs: Date.now() - started });
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
  await advance(399, 57);
  assert.equal(s.cuts.length, 0, "nothing cut before the date");
  mock.timers.tick(1);
  await until(() => s.cuts.length === 1, "cut at the date");
  assert.equal(s.cuts[0]?.name, "later");
  assert.match(s.cuts[0]?.reason ?? "", /^Expired on /);
  assert.equal(s.cuts[0]?.atMs, 400, "cut when the date came");
  await advance(120_000, 10_000);
  assert.equal(s.cuts.length, 1, "the account without an expiry is never cut");
});

test("an expiry date set while running is seen at the change, not at the next refresh", async () => {
  const s = await setup();
  await s.add("alice", null, null);
  await s.enforcer.start();
  s.store.db
    .prepare("UPDATE accounts SET expires_at = ? WHERE name = ?")
    .run(new Date(Date.now() + 200).toISOString(), "alice");
  s.changed();
  await advance(150);
  assert.equal(s.cuts.length, 0, "not before the new date");
  mock.timers.tick(50);
  await until(() => s.cuts.length > 0, "cut at the new date");
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
  assert.equal(s.cuts.length, 1, "cut at start: the date has passed");
  await advance(999);
  assert.equal(s.cuts.length, 1, "no retry before 1 s");
  mock.timers.tick(1);
  await until(() => s.cuts.length === 2, "retried after 1 s");
  await advance(4_999);
  assert.equal(s.cuts.length, 2, "the second retry waits 5 s");
  mock.timers.tick(1);
  await until(() => s.cuts.length === 3, "two partial cuts, then a complete one");
  assert.deepEqual(
    s.cuts.map((c) => c.atMs),
    [0, 1000, 6000],
    "cut at start, then retried after 1 s and 5 s",
  );
  await advance(200_000, 10_000);
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
  await settle();
  assert.deepEqual(
    s.cuts.map((c) => c.name),
    [],
    "the store still shows them within: the cut re-reads the account first",
  );
  s.store.db.prepare("UPDATE usage SET down_bytes = 5000 WHERE name = 'bob'").run();
  s.store.db.prepare("UPDATE usage SET down_bytes = 4999 WHERE name = 'carol'").run();
  for (const listener of s.usageListeners) listener([usage("bob", 5000), usage("carol", 4999)]);
  await settle();
  assert.deepEqual(
    s.cuts.map((c) => c.name),
    ["bob"],
  );
  assert.match(
    s.cuts[0]?.reason ?? "",
    /Bandwidth limit exceeded: used .* \(5000 B\) of .* \(5000 B\)/,
  );
});

test("a slow refresh that read the accounts earlier never undoes a newer one", async () => {
  const s = await setup();
  await s.add("dave", null, null);
  await s.enforcer.start();
  // The first refresh reads the accounts before the expiry is set and finishes after the second.
  const read = s.store.listAccounts.bind(s.store);
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  s.store.listAccounts = async () => {
    const snapshot = await read();
    if (++calls === 1) await gate;
    return snapshot;
  };
  const older = s.enforcer.refresh();
  await settle();
  s.store.db
    .prepare("UPDATE accounts SET expires_at = ? WHERE name = ?")
    .run(new Date(Date.now() + 200).toISOString(), "dave");
  const newer = s.enforcer.refresh();
  await settle();
  release();
  await Promise.all([older, newer]);
  await advance(150);
  assert.equal(s.cuts.length, 0, "not before the date");
  mock.timers.tick(50);
  await until(() => s.cuts.length === 1, "cut at the date the newer refresh read");
});

test("an expiry timer that fires a hair before the clock reaches the date still cuts then", async () => {
  const s = await setup();
  await s.add("erin", null, new Date(Date.now() + 400).toISOString());
  await s.enforcer.start();
  await advance(399, 57);
  assert.equal(s.cuts.length, 0, "nothing cut before the date");
  // Node measures timers from the loop's cached clock: the first look at the wall clock after the
  // timer fires can read a millisecond before the date it was set for.
  const clock = Date.now.bind(Date);
  let lagMs = 1;
  Date.now = () => {
    const now = clock() - lagMs;
    lagMs = 0;
    return now;
  };
  try {
    mock.timers.tick(1);
    await settle();
    await advance(10, 1);
    assert.equal(s.cuts.length, 1, "cut within 10 ms of the date, not at the next refresh");
    assert.match(s.cuts[0]?.reason ?? "", /^Expired on /);
  } finally {
    Date.now = clock;
  }
});
