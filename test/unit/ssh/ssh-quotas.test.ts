/**
 * The SSH quota part against a recording fake of kuota's nft table: what each account's quota
 * object is set to (what is left of its limit, in the kernel's own count), when it is removed,
 * and that an account over its quota is reported once, after its counters were read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SshQuotas, type MappedSession } from "../../../src/collect/ssh/ssh-quotas.js";
import type { AccountUsage, SshCountingTable } from "../../../src/collect/ssh/ssh-table.js";
import type { Store } from "../../../src/store/store.js";
import { silentLogger } from "../../../src/core/log.js";

type Quota = { bytes: number; used: number };

function rig(accounts: Record<string, { limit: number | null; stored: number }>) {
  const kernel = new Map<string, Quota>();
  const calls: string[] = [];
  const sessions: MappedSession[] = [
    { ip: "10.0.0.2", port: 40001, user: "alice" },
    { ip: "127.0.0.1", port: 40002, user: "alice" },
    { ip: "10.0.0.3", port: 40003, user: "bob" },
  ];
  const table = {
    readQuotas: async () => new Map(kernel),
    readSnapshot: async () => ({ usage: new Map() as AccountUsage, quotas: new Map(kernel) }),
    setQuota: async (user: string, over: number) => {
      calls.push(`set ${user} ${over}`);
      kernel.set(user, { bytes: over, used: kernel.get(user)?.used ?? 0 });
    },
    quotaSession: async (s: MappedSession, user: string) => {
      calls.push(`session ${user} ${s.ip}:${s.port}`);
    },
    removeQuota: async (user: string) => {
      calls.push(`remove ${user}`);
      kernel.delete(user);
    },
  } as unknown as SshCountingTable;
  const store = {
    getAccount: async (name: string) => {
      const a = accounts[name];
      if (!a) return null;
      return {
        name,
        protocol: "ssh",
        limitBytes: a.limit,
        usage: { uploadBytes: a.stored, downloadBytes: 0 },
      };
    },
  } as unknown as Store;
  const polled: string[] = [];
  const over: string[] = [];
  const quotas = new SshQuotas({
    table,
    store,
    log: silentLogger,
    sshPorts: [22],
    group: 42,
    onQuotaOver: (user) => over.push(user),
    host: {
      sessionsOf: (user) => sessions.filter((s) => s.user === user),
      userAt: (key) => sessions.find((s) => s.ip === key.ip && s.port === key.port)?.user,
      managed: async () => new Map(Object.entries(accounts).map(([n, a]) => [n, a.limit])),
      apply: async () => undefined,
      pollAccounts: async (names) => void polled.push(...names),
    },
  });
  return { quotas, kernel, calls, sessions, polled, over, accounts };
}

test("a limited account's quota holds what is left of its limit, in the kernel's own count", async () => {
  const r = rig({ alice: { limit: 1000, stored: 400 }, bob: { limit: null, stored: 9999 } });
  // The kernel object already counted 50 B of what the store holds (a re-sync).
  r.kernel.set("alice", { bytes: 700, used: 50 });
  await r.quotas.sync(null);
  assert.deepEqual(r.calls, [
    "set alice 650",
    "session alice 10.0.0.2:40001",
    "session alice 127.0.0.1:40002",
  ]);
  assert.equal(r.quotas.limitSetFor("alice"), 1000);
  assert.equal(r.quotas.limitSetFor("bob"), undefined, "no quota for an unlimited account");
  assert.ok(
    r.sessions.filter((s) => s.user === "alice").every((s) => s.quota === true),
    "both sessions count against it",
  );
  r.calls.length = 0;
  await r.quotas.sync(null);
  assert.deepEqual(r.calls, [], "in step: nothing to do");
});

test("a used-up account gets a quota of 1 byte; a removed limit removes the quota", async () => {
  const r = rig({ alice: { limit: 1000, stored: 1200 } });
  await r.quotas.sync(new Set(["alice"]));
  assert.equal(r.calls[0], "set alice 1", "never 0 or negative");
  r.accounts["alice"] = { limit: null, stored: 1200 };
  r.calls.length = 0;
  await r.quotas.sync(null);
  assert.deepEqual(r.calls, ["remove alice"]);
  assert.equal(r.quotas.limitSetFor("alice"), undefined);
  assert.ok(r.sessions.filter((s) => s.user === "alice").every((s) => s.quota === false));
});

test("without an NFLOG reader (never started here), a quota used up is reported once, after a read of its counters", async () => {
  const r = rig({ alice: { limit: 1000, stored: 0 }, bob: { limit: 500, stored: 0 } });
  await r.quotas.sync(null);
  r.kernel.set("alice", { bytes: 1000, used: 1000 });
  r.kernel.set("bob", { bytes: 500, used: 499 });
  await r.quotas.checkPolled();
  await r.quotas.checkPolled();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.polled, ["alice"], "its counters read first");
  assert.deepEqual(r.over, ["alice"], "reported once; bob is still within");
  r.quotas.forget("alice");
  r.over.length = 0;
  await r.quotas.checkPolled();
  assert.deepEqual(r.over, [], "a forgotten account is not reported");
});

test("a dropped packet is matched to its session in either direction, and reported once", async () => {
  const r = rig({ alice: { limit: 1000, stored: 0 }, bob: { limit: 1000, stored: 0 } });
  await r.quotas.sync(null);
  // client → daemon, then daemon → client of the same session; then another of alice's
  r.quotas.dropped({ srcIp: "10.0.0.2", srcPort: 40001, dstIp: "10.0.0.1", dstPort: 22 });
  r.quotas.dropped({ srcIp: "10.0.0.1", srcPort: 22, dstIp: "10.0.0.2", dstPort: 40001 });
  r.quotas.dropped({ srcIp: "127.0.0.1", srcPort: 22, dstIp: "127.0.0.1", dstPort: 40002 });
  // a session not mapped here
  r.quotas.dropped({ srcIp: "10.0.0.9", srcPort: 40009, dstIp: "10.0.0.1", dstPort: 22 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.over, ["alice"]);
  r.quotas.dropped({ srcIp: "10.0.0.1", srcPort: 22, dstIp: "10.0.0.3", dstPort: 40003 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.over, ["alice", "bob"]);
});
