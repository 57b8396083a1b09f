import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { JournalFollower, fromRoot } from "../../../src/collect/ssh/journal-follower.js";
import { silentLogger } from "../../../src/core/log.js";

const dir = mkdtempSync(join(tmpdir(), "kuota-journal-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const record = (cursor: string, uid: string, message: string) =>
  JSON.stringify({ __CURSOR: cursor, _UID: uid, SYSLOG_IDENTIFIER: "sshd", MESSAGE: message });

/** A stand-in journalctl: records its arguments, prints the given records, then stays. */
function fakeJournalctl(records: string[]): { binary: string; argsFile: string } {
  const argsFile = join(dir, `args-${Math.random()}`);
  const out = join(dir, `out-${Math.random()}`);
  writeFileSync(out, records.join("\n") + "\n");
  const binary = join(dir, `journalctl-${Math.random()}`);
  writeFileSync(
    binary,
    `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\ncat '${out}'\nexec sleep 30\n`,
    { mode: 0o755 },
  );
  return { binary, argsFile };
}

describe("JournalFollower", () => {
  it("passes only uid 0 records and remembers the last cursor", () => {
    const { lines, cursor } = fromRoot([
      record("c1", "0", "Accepted password for alice from 10.0.0.1 port 1 ssh2"),
      record("c2", "1000", "Accepted password for alice from 10.0.0.1 port 2 ssh2"),
      "not json",
      '{"__CURSOR": 5}',
    ]);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /port 1 ssh2/);
    assert.equal(cursor, "c2");
  });

  it("reads the boot first, then continues after the stored cursor", async () => {
    const state = new Map<string, string>();
    const store = {
      getState: async (k: string) => state.get(k) ?? null,
      setState: async (k: string, v: string) => void state.set(k, v),
    };
    const first = fakeJournalctl([record("c1", "0", "one"), record("c2", "1000", "forged")]);
    const seen: string[] = [];
    const a = new JournalFollower({
      store,
      stateKey: "cur",
      log: silentLogger,
      binary: first.binary,
    });
    await a.start(async (lines) => void seen.push(...lines));
    for (let i = 0; i < 100 && state.get("cur") !== "c2"; i++) await sleep(10);
    await a.stop();
    assert.equal(state.get("cur"), "c2", "cursor stored");
    assert.equal(seen.length, 1, "the forged record was dropped");
    const args = readFileSync(first.argsFile, "utf8").split("\n");
    assert.ok(args.includes("-b") && args.includes("-f"), `boot and follow: ${args.join(" ")}`);
    assert.ok(args.includes("SYSLOG_IDENTIFIER=dropbear"), "matches dropbear by identifier");

    const second = fakeJournalctl([]);
    const b = new JournalFollower({
      store,
      stateKey: "cur",
      log: silentLogger,
      binary: second.binary,
    });
    await b.start(async () => undefined);
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(second.argsFile, "utf8").includes("c2")) break;
      } catch {
        // not started yet
      }
      await sleep(10);
    }
    await b.stop();
    const resumed = readFileSync(second.argsFile, "utf8").split("\n");
    assert.equal(resumed[resumed.indexOf("--after-cursor") + 1], "c2", "resumes after the cursor");
  });

  it("says so when journalctl is missing, without throwing", async () => {
    const store = { getState: async () => null, setState: async () => undefined };
    const f = new JournalFollower({
      store,
      stateKey: "cur",
      log: silentLogger,
      binary: join(dir, "no-such-journalctl"),
      restartMs: 60_000,
    });
    await f.start(async () => undefined);
    for (let i = 0; i < 100 && f.problem === null; i++) await sleep(10);
    assert.match(f.problem ?? "", /not installed/);
    await f.stop();
  });
});
