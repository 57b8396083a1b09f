import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import { SqliteHostStore } from "../../../src/store/sqlite/sqlite-host-store.js";
import { HostRecorder } from "../../../src/capture/host-recorder.js";
import { silentLogger } from "../../../src/core/log.js";
import { localDateTime } from "../../../src/core/time.js";

test("writes one hosts.log line per new host and counts the rest in the store", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kuota-recorder-"));
  const store = new SqliteStore(join(dir, "kuota.db"));
  const hosts = new SqliteHostStore(store.db);
  const hostsLog = join(dir, "myvpn", "hosts.log");
  const recorder = new HostRecorder({ store: hosts, hostsLog, log: silentLogger, flushMs: 10_000 });
  try {
    await recorder.start();
    const at = new Date(2026, 11, 3, 18, 20, 1);
    const base = { service: "VLESS", sourceIp: "10.0.0.9", account: null, kind: "sni" as const };
    for (let i = 0; i < 60; i++) {
      recorder.add({ ...base, host: "a.test", at: new Date(at.getTime() + i).toISOString() });
    }
    recorder.setState("pos", "42");
    await recorder.flush();
    for (let i = 0; i < 40; i++) recorder.add({ ...base, host: "a.test", at: at.toISOString() });
    recorder.add({ ...base, host: "b.test", service: "80", kind: "http", at: at.toISOString() });
    await recorder.stop();

    const lines = readFileSync(hostsLog, "utf8").trimEnd().split("\n");
    const when = localDateTime(at);
    assert.deepEqual(lines, [`a.test|VLESS|10.0.0.9|${when}`, `b.test|80|10.0.0.9|${when}`]);
    const [a] = await hosts.listHosts({ q: "a.test" });
    assert.equal(a?.count, 100, "every sighting counted");
    assert.equal(a?.firstSeen, at.toISOString(), "the earliest sighting is the first");
    assert.equal(await store.getState("pos"), "42", "state written with the batch");
    assert.equal(recorder.hosts, 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
