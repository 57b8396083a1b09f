/**
 * Issue 5's acceptance for SSH accounts: the real worker in the rig's server namespace gives each
 * limited account a kernel quota; real sshd and dropbear, `ssh -D` and `dbclient -L` tunnels and
 * curl at full speed. The kernel drops the account's packets the moment the quota runs out, the
 * NFLOG notice reaches the worker, and the lifecycle's delete follows.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { createNetRig, type NetRig } from "../rig/netns.js";
import {
  startDbclientForward,
  startDropbear,
  startSshSocks,
  startSshd,
  startWebServer,
  type RunningClient,
  type RunningDaemon,
} from "../rig/ssh-servers.js";
import { WorkerSandbox } from "../rig/worker.js";
import { Nft } from "../../src/collect/ssh/nft.js";
import { SshCountingTable } from "../../src/collect/ssh/ssh-table.js";
import { TABLE } from "../../src/collect/ssh/nft-ruleset.js";

const MiB = 1024 * 1024;
const KiB = 1024;
const LIMIT = 20 * MiB;
const SHELLS = "/etc/shells";
const shellsBefore = readFileSync(SHELLS, "utf8");
const names = new Set<string>();
const clients: RunningClient[] = [];

function restoreSystem(): void {
  writeFileSync(SHELLS, shellsBefore);
  for (const name of names) {
    if (spawnSync("id", ["-u", name]).status === 0) spawnSync("userdel", ["-f", "-r", name]);
  }
}
// root-level: registered at import, so they run after the last test (or at exit)
after(async () => {
  for (const client of clients.splice(0)) await client.stop().catch(() => undefined);
  await worker?.stop();
  await table?.nft.run(`delete table ${TABLE}\n`).catch(() => undefined);
  restoreSystem();
});
process.on("exit", restoreSystem);

let rig: NetRig;
let sshd: RunningDaemon;
let dropbear: RunningDaemon;
let web: Awaited<ReturnType<typeof startWebServer>>;
let worker: WorkerSandbox;
let table: SshCountingTable;

before(async () => {
  // Sellers' autoscripts list /bin/false in /etc/shells: Dropbear refuses shells missing there.
  if (!shellsBefore.split("\n").includes("/bin/false")) {
    writeFileSync(SHELLS, `${shellsBefore.replace(/\n?$/, "\n")}/bin/false\n`);
  }
  rig = await createNetRig({ offloads: true });
  sshd = await startSshd(rig, { port: 22 });
  dropbear = await startDropbear(rig, { port: 109 });
  web = await startWebServer(rig);
  table = new SshCountingTable(new Nft({ netns: rig.ns.server }), [22, 109]);
  worker = new WorkerSandbox({
    KUOTA_PASSWD_FILE: "/etc/passwd",
    SSH_ACCOUNTING: "true",
    SSH_PORTS: "22,109",
    SSH_AUTH_LOG: `${sshd.logFile},${dropbear.logFile}`,
    // the regular poll is slow on purpose: the cut must not wait for it
    KUOTA_POLL_MS: "1000",
    KUOTA_PUBLIC_HOST: rig.addr.serverForClient,
  });
  await worker.start({}, { netns: rig.ns.server });
  await worker.waitForLog(/"SSH accounting started"/);
});

/** A name the rig's daemons accept (`AllowUsers kqt*`). */
function newName(): string {
  const name = `kqt${randomBytes(4).toString("hex")}`;
  names.add(name);
  return name;
}

async function createSsh(name: string, password: string, limit: string): Promise<void> {
  const args = ["account", "add", "ssh", name, "--password", password, "--json"];
  if (limit !== "unlimited") args.push("--limit", limit);
  const result = await worker.cli(args);
  assert.equal(result.code, 0, `kuota account add ssh: ${result.stderr}`);
}

type Event = {
  kind: string;
  account: string;
  used_bytes: number;
  limit_bytes: number;
  reason: string;
};

function events(name: string): Event[] {
  const db = new Database(worker.env["KUOTA_DB"] as string, { readonly: true });
  try {
    return db.prepare("SELECT * FROM events WHERE account = ?").all(name) as Event[];
  } finally {
    db.close();
  }
}

/** Waits until the worker sent a session of `name` to its quota object. */
async function quotaMapped(name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await table.quotaSessions()).some((s) => s.user === name)) return;
    await sleep(25);
  }
  assert.fail(`no session of ${name} was sent to its quota within ${timeoutMs} ms`);
}

/** Downloads `bytes` through a tunnel at full speed; curl's own figure, even when cut. */
async function download(
  via: { socks: number } | { forward: number },
  bytes: number,
): Promise<{ received: number; exitCode: number; endedAt: number }> {
  const args = ["-sS", "-o", "/dev/null", "-w", "%{size_download}", "--max-time", "30"];
  if ("socks" in via) {
    args.push("--socks5-hostname", `127.0.0.1:${via.socks}`, web.url(`/bytes?n=${bytes}`));
  } else {
    args.push(`http://127.0.0.1:${via.forward}/bytes?n=${bytes}`);
  }
  const result = await rig.exec("client", "curl", args, { reject: false, timeout: 60_000 });
  return {
    received: Number(String(result.stdout).trim()),
    exitCode: result.exitCode ?? -1,
    endedAt: Date.now(),
  };
}

/** `time` (ms) of the first worker log line matching. */
function logTime(pattern: RegExp): number | null {
  const line = worker.logLines.find((l) => pattern.test(l));
  if (!line) return null;
  const time = (JSON.parse(line) as { time: number | string }).time;
  return typeof time === "number" ? time : Date.parse(time);
}

async function cutAcceptance(
  t: TestContext,
  daemon: "openssh" | "dropbear",
  localPort: number,
): Promise<void> {
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  await createSsh(name, password, "20MiB");
  const host = rig.addr.serverForClient;
  const client =
    daemon === "openssh"
      ? await startSshSocks(rig, { user: name, password, host, port: 22, socksPort: localPort })
      : await startDbclientForward(rig, {
          user: name,
          password,
          host,
          port: 109,
          localPort,
          targetHost: rig.addr.web,
          targetPort: web.port,
        });
  clients.push(client);
  await quotaMapped(name);

  const started = Date.now();
  const result = await download(
    daemon === "openssh" ? { socks: localPort } : { forward: localPort },
    200 * MiB,
  );
  let event = events(name)[0];
  for (let i = 0; i < 100 && !event; i++) {
    await sleep(50);
    event = events(name)[0];
  }
  const ranOut = logTime(new RegExp(`"user":"${name}".*kernel quota ran out`));
  const deleted = logTime(new RegExp(`"user":"${name}".*"account deleted"`));
  const overshoot = result.received - LIMIT;
  t.diagnostic(
    `${daemon}: curl received ${result.received} B of a ${LIMIT} B limit ` +
      `(${overshoot >= 0 ? "+" : ""}${overshoot} B), curl exit ${result.exitCode} after ` +
      `${result.endedAt - started} ms; quota ran out → deleted in ` +
      `${ranOut !== null && deleted !== null ? deleted - ranOut : "?"} ms; ` +
      `curl ended ${ranOut !== null ? result.endedAt - ranOut : "?"} ms after the quota ran out`,
  );
  const story = worker.logLines
    .filter((l) => l.includes(`"${name}"`) || /quota drop|NFLOG|notice/i.test(l))
    .map((l) => {
      const j = JSON.parse(l) as { time: string; msg: string; via?: string };
      return `${j.time.slice(11)} ${j.msg}${j.via ? ` (${j.via})` : ""}`;
    });
  t.diagnostic(`worker lines for ${name}: ${story.join(" | ")}`);
  assert.ok(event, `a deletion event for ${name}:\n${worker.logLines.slice(-15).join("\n")}`);
  t.diagnostic(`event: used ${event.used_bytes} B, reason: ${event.reason}`);
  assert.ok(result.received <= LIMIT + 256 * KiB, `received ${result.received} B`);
  assert.ok(result.received > LIMIT - 512 * KiB, `not cut early: received ${result.received} B`);
  assert.notEqual(result.exitCode, 0, "the download was cut");
  assert.match(event.reason, /Bandwidth limit exceeded/, "reason");
  // The kernel cut it and told the worker; a regular poll finding it over is the fallback only.
  assert.match(event.reason, /its kernel quota ran out$/, "cut by the kernel quota, not a poll");
  // its tunnel is gone: the client saw its connection end
  const ended = await Promise.race([client.process.then(() => true), sleep(5000, false)]);
  assert.ok(ended, `${daemon} client connection ended`);
  assert.doesNotMatch(
    readFileSync("/etc/passwd", "utf8"),
    new RegExp(`^${name}:`, "m"),
    "no Linux user",
  );
  assert.match(
    readFileSync(join(worker.dataDir, "deleted.log"), "utf8"),
    new RegExp(
      `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\| SSH \\| ${name} \\| reason: Bandwidth limit exceeded`,
      "m",
    ),
    "deleted.log line",
  );
  assert.ok(!(await table.readQuotas()).has(name), "its quota object is gone with the account");
}

test("an SSH account with a 20 MiB limit is cut by its kernel quota through OpenSSH and deleted", async (t) => {
  await cutAcceptance(t, "openssh", 1091);
});

test("an SSH account with a 20 MiB limit is cut by its kernel quota through Dropbear and deleted", async (t) => {
  await cutAcceptance(t, "dropbear", 8091);
});

test("an SSH account without a limit is never cut, whatever it uses", async () => {
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  await createSsh(name, password, "unlimited");
  const host = rig.addr.serverForClient;
  const client = await startSshSocks(rig, {
    user: name,
    password,
    host,
    port: 22,
    socksPort: 1092,
  });
  clients.push(client);
  for (let i = 0; i < 3; i++) {
    const r = await download({ socks: 1092 }, 40 * MiB);
    assert.equal(r.received, 40 * MiB, `download ${i + 1} completed`);
  }
  await sleep(1500);
  assert.match(readFileSync("/etc/passwd", "utf8"), new RegExp(`^${name}:`, "m"), "still a user");
  assert.equal(events(name).length, 0, "no event");
  assert.ok(!(await table.readQuotas()).has(name), "no quota object");
});

test("raising the limit of an SSH account close to it moves its kernel quota and prevents the cut", async (t) => {
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  await createSsh(name, password, "20MiB");
  const host = rig.addr.serverForClient;
  const client = await startSshSocks(rig, {
    user: name,
    password,
    host,
    port: 22,
    socksPort: 1093,
  });
  clients.push(client);
  await quotaMapped(name);
  const first = await download({ socks: 1093 }, 15 * MiB);
  assert.equal(first.received, 15 * MiB, "first download completed");
  const before = (await table.readQuotas()).get(name);
  const t0 = Date.now();
  const r = await worker.cli(["account", "limit", name, "100MiB"]);
  assert.equal(r.code, 0, r.stderr);
  // the answer comes once the kernel quota follows the new limit
  const now = (await table.readQuotas()).get(name);
  t.diagnostic(
    `quota ${before?.bytes} B → ${now?.bytes} B (used ${now?.used} B); the CLI call took ${Date.now() - t0} ms`,
  );
  assert.ok(now && before && now.bytes > before.bytes + 70 * MiB, "the quota moved with the limit");
  const second = await download({ socks: 1093 }, 10 * MiB);
  assert.equal(second.received, 10 * MiB, "second download completed past the old limit");
  await sleep(1500);
  assert.match(readFileSync("/etc/passwd", "utf8"), new RegExp(`^${name}:`, "m"), "still a user");
  assert.equal(events(name).length, 0, "no event");
});

test("with KUOTA_ON_LIMIT=lock an SSH account over its quota is locked, not deleted; a top-up lets it back in", async (t) => {
  await worker.stop();
  const lines = worker.logLines.length;
  await worker.start({ KUOTA_ON_LIMIT: "lock" }, { netns: rig.ns.server });
  for (let i = 0; i < 200; i++) {
    if (worker.logLines.slice(lines).some((l) => l.includes('"SSH accounting started"'))) break;
    await sleep(50);
  }
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  await createSsh(name, password, "4MiB");
  const host = rig.addr.serverForClient;
  const login = () => startSshSocks(rig, { user: name, password, host, port: 22, socksPort: 1094 });
  const client = await login();
  clients.push(client);
  await quotaMapped(name);
  const cut = await download({ socks: 1094 }, 50 * MiB);
  let event = events(name)[0];
  for (let i = 0; i < 100 && !event; i++) {
    await sleep(50);
    event = events(name)[0];
  }
  t.diagnostic(`curl received ${cut.received} B of a 4 MiB limit; event: ${JSON.stringify(event)}`);
  assert.ok(cut.received <= 4 * MiB + 256 * KiB, `received ${cut.received} B`);
  assert.ok(event, "an event was recorded");
  assert.equal(event.kind, "locked");
  const ended = await Promise.race([client.process.then(() => true), sleep(5000, false)]);
  assert.ok(ended, "its session ended");
  assert.match(readFileSync("/etc/passwd", "utf8"), new RegExp(`^${name}:`, "m"), "user kept");
  const status = spawnSync("passwd", ["-S", name], { encoding: "utf8" }).stdout;
  assert.match(status, new RegExp(`^${name} L `), `password locked: ${status}`);
  await assert.rejects(login(), "a locked account cannot log in");

  const topUp = await worker.cli(["account", "limit", name, "100MiB", "--reset", "--json"]);
  assert.equal(topUp.code, 0, topUp.stderr);
  assert.equal((JSON.parse(topUp.stdout) as { state: string }).state, "active", "unlocked");
  const again = await login();
  clients.push(again);
  await quotaMapped(name);
  const afterTopUp = await download({ socks: 1094 }, 8 * MiB);
  assert.equal(afterTopUp.received, 8 * MiB, "past the old limit after the top-up");
  assert.equal(events(name).length, 1, "not locked again");
});
