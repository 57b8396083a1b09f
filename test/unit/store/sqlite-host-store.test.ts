import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import { SqliteHostStore } from "../../../src/store/sqlite/sqlite-host-store.js";
import type { HostSighting } from "../../../src/store/host-store.js";

function fresh(): { hosts: SqliteHostStore; store: SqliteStore; done: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), "kuota-hosts-"));
  const store = new SqliteStore(join(dir, "kuota.db"));
  return {
    store,
    hosts: new SqliteHostStore(store.db),
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sighting = (host: string, at: string, extra: Partial<HostSighting> = {}): HostSighting => ({
  host,
  service: "443",
  sourceIp: "10.0.0.1",
  account: null,
  kind: "sni",
  at,
  ...extra,
});

test("a host is new once; later sightings add to its count and last-seen time", async () => {
  const { hosts, done } = fresh();
  try {
    const first = await hosts.recordSightings([
      sighting("a.test", "2026-12-03T10:00:00.000Z"),
      sighting("b.test", "2026-12-03T10:00:01.000Z", {
        count: 4,
        lastAt: "2026-12-03T10:00:05.000Z",
      }),
    ]);
    assert.deepEqual(first, [{ isNew: true }, { isNew: true }]);
    const again = await hosts.recordSightings([
      sighting("a.test", "2026-12-03T11:00:00.000Z", {
        service: "VLESS",
        account: "alice",
        count: 2,
      }),
    ]);
    assert.deepEqual(again, [{ isNew: false }]);
    const [a] = await hosts.listHosts({ q: "a.test" });
    assert.equal(a?.count, 3, "1 + 2");
    assert.equal(a?.service, "443", "service of the first sighting");
    assert.equal(a?.account, "alice", "an account fills in a missing one");
    assert.equal(a?.firstSeen, "2026-12-03T10:00:00.000Z");
    assert.equal(a?.lastSeen, "2026-12-03T11:00:00.000Z");
    const [b] = await hosts.listHosts({ q: "b." });
    assert.equal(b?.count, 4);
    assert.equal(b?.lastSeen, "2026-12-03T10:00:05.000Z");
    assert.equal(await hosts.countHosts(), 2);
  } finally {
    await done();
  }
});

test("filters by time, service, text and id; LIKE wildcards are literal", async () => {
  const { hosts, done } = fresh();
  try {
    await hosts.recordSightings([
      sighting("old.test", "2026-12-01T00:00:00.000Z", { service: "VLESS" }),
      sighting("new.test", "2026-12-03T00:00:00.000Z", { service: "vless" }),
      sighting("x_y.test", "2026-12-02T00:00:00.000Z"),
    ]);
    const names = async (f: Parameters<typeof hosts.listHosts>[0]) =>
      (await hosts.listHosts(f)).map((h) => h.host);
    assert.deepEqual(await names({}), ["new.test", "x_y.test", "old.test"], "newest first");
    assert.deepEqual(await names({ since: "2026-12-02T00:00:00.000Z" }), ["new.test", "x_y.test"]);
    assert.deepEqual(await names({ service: "VLESS" }), ["new.test", "old.test"], "any case");
    assert.deepEqual(await names({ q: "_" }), ["x_y.test"], "underscore is not a wildcard");
    assert.deepEqual(await names({ afterId: 1 }), ["new.test", "x_y.test"], "in recorded order");
    assert.deepEqual(await names({ limit: 1 }), ["new.test"]);
  } finally {
    await done();
  }
});

test("state and hosts commit together; a failing hook records nothing", async () => {
  const { hosts, store, done } = fresh();
  try {
    await assert.rejects(
      hosts.recordSightings([sighting("a.test", "2026-12-03T10:00:00.000Z")], { k: "1" }, () => {
        throw new Error("disk full");
      }),
      /disk full/,
    );
    assert.equal(await hosts.countHosts(), 0, "rolled back");
    assert.equal(await store.getState("k"), null, "state rolled back too");
    const seen: string[] = [];
    await hosts.recordSightings(
      [sighting("a.test", "2026-12-03T10:00:00.000Z")],
      { k: "2" },
      (added) => seen.push(...added.map((h) => h.host)),
    );
    assert.deepEqual(seen, ["a.test"]);
    assert.equal(await store.getState("k"), "2");
  } finally {
    await done();
  }
});
