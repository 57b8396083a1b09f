/**
 * Reading SSH counters into the store, against a fake of kuota's nft table holding absolute byte
 * values and a real SQLite store: growth is stored once, lost counters come back at their stored
 * values, idle reads are skipped, and a flush is told apart from a deletion.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SshCounters } from "../../../src/collect/ssh/ssh-counters.js";
import type { AccountCounters } from "../../../src/collect/ssh/nft-ruleset.js";
import type { AccountUsage, SshCountingTable } from "../../../src/collect/ssh/ssh-table.js";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import type { Usage } from "../../../src/store/store.js";

const bytes = (up: number, dn: number): AccountCounters => ({
  up: { packets: 1, bytes: up },
  dn: { packets: 1, bytes: dn },
});

async function rig(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = mkdtempSync(join(tmpdir(), "kuota-ssh-counters-"));
  const store = new SqliteStore(join(dir, "kuota.db"));
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const name of ["alice", "bob"])
    await store.createAccount(
      { name, protocol: "ssh", origin: "created", limitBytes: null, expiresAt: null },
      new Date().toISOString(),
    );
  const kernel: AccountUsage = new Map();
  const ensured: Map<string, AccountCounters>[] = [];
  let reads = 0;
  const table = {
    readUsage: async () => {
      reads++;
      return new Map(kernel);
    },
    ensure: async (stored: Map<string, AccountCounters>) => void ensured.push(stored),
  } as unknown as SshCountingTable;
  const changed: Usage[][] = [];
  const counters = new SshCounters({ table, store, onUsage: (c) => changed.push(c) });
  const used = async (name: string) => {
    const u = (await store.getAccount(name))?.usage;
    return [u?.uploadBytes, u?.downloadBytes];
  };
  return { store, kernel, ensured, counters, changed, used, reads: () => reads };
}

test("growth is stored once: the same absolute values read again add nothing", async (t) => {
  const r = await rig(t);
  r.kernel.set("alice", bytes(100, 2000));
  await r.counters.save(await r.counters.read(), null);
  await r.counters.save(await r.counters.read(), null);
  assert.deepEqual(await r.used("alice"), [100, 2000]);
  assert.equal(r.changed.length, 1, "one change reported");
  r.kernel.set("alice", bytes(150, 2600));
  await r.counters.save(await r.counters.read(), null);
  assert.deepEqual(await r.used("alice"), [150, 2600]);
});

test("a read for a few accounts stores theirs only", async (t) => {
  const r = await rig(t);
  r.kernel.set("alice", bytes(10, 20));
  r.kernel.set("bob", bytes(30, 40));
  await r.counters.save(await r.counters.read(), new Set(["bob"]));
  assert.deepEqual(await r.used("alice"), [0, 0]);
  assert.deepEqual(await r.used("bob"), [30, 40]);
});

test("counters the kernel lost are recreated at their stored values; unknown ones are not", async (t) => {
  const r = await rig(t);
  r.kernel.set("alice", bytes(700, 9000));
  await r.counters.save(await r.counters.read(), null);
  await r.counters.ensure(["alice", "bob"]);
  assert.deepEqual(r.ensured, [
    new Map([["alice", { up: { packets: 0, bytes: 700 }, dn: { packets: 0, bytes: 9000 } }]]),
  ]);
});

test("an idle read is skipped only when the previous full read was idle too", async (t) => {
  const r = await rig(t);
  const outcomes: string[] = [];
  for (const idle of [true, true, false, true, true]) {
    outcomes.push((await r.counters.readAll(idle)) === null ? "skip" : "read");
  }
  // The read after the last session ended takes its final bytes; only the one after is skipped.
  assert.deepEqual(outcomes, ["read", "skip", "read", "read", "skip"]);
  assert.equal(r.reads(), 3);
});

test("all counters gone at once is a loss; some gone while others stay is a deletion", async (t) => {
  const r = await rig(t);
  r.kernel.set("alice", bytes(1, 1));
  r.kernel.set("bob", bytes(2, 2));
  const first = await r.counters.readAll(false);
  assert.deepEqual([first?.lost, first?.gone], [0, []]);
  r.counters.accept(first?.usage ?? new Map());

  r.kernel.delete("bob");
  const some = await r.counters.readAll(false);
  assert.deepEqual([some?.lost, some?.gone], [0, ["bob"]]);
  r.counters.accept(some?.usage ?? new Map());

  r.kernel.clear();
  const all = await r.counters.readAll(false);
  assert.deepEqual([all?.lost, all?.gone], [1, []]);

  r.counters.forget("alice");
  const forgotten = await r.counters.readAll(false);
  assert.deepEqual([forgotten?.lost, forgotten?.gone], [0, []], "a forgotten account is no loss");
});
