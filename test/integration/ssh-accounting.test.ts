/**
 * Issue 3's acceptance: the real worker (`kuota worker`, run inside the rig's server namespace)
 * counting SSH accounts through real sshd, dropbear, `ssh -D`, `dbclient -L`, socat and curl.
 *
 * Accounts: the test users' real shell is /bin/sh (Dropbear refuses a shell missing from
 * /etc/shells), and the worker's KUOTA_PASSWD_FILE lists them with /bin/false, so discovery adopts
 * them as SSH accounts through its ordinary path while the host's /etc/shells stays untouched.
 * `outsider` is a real user missing from that file: kuota does not manage it.
 *
 * Offloads: on by default, as in ssh-mechanism.test.ts (a seller's NIC segments large sends; nft
 * then sees few headers). KUOTA_TEST_OFFLOADS=off runs with wire-sized packets and a 6 % bound.
 */
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { createNetRig, offloadState, type NetRig } from "../rig/netns.js";
import { createTestUser, type TestUser } from "../rig/linux-users.js";
import {
  randomFile,
  startDbclientForward,
  startDropbear,
  startLoopbackProxy,
  startSshd,
  startSshSocks,
  startWebServer,
  type RunningClient,
  type RunningDaemon,
} from "../rig/ssh-servers.js";
import { WorkerSandbox } from "../rig/worker.js";
import { ControlClient } from "../../src/control/client.js";
import { Nft } from "../../src/collect/ssh/nft.js";
import { SshCountingTable } from "../../src/collect/ssh/ssh-table.js";
import { TABLE } from "../../src/collect/ssh/nft-ruleset.js";
import type { StatusView } from "../../src/control/api.js";

const MiB = 1024 * 1024;
const DOWN = 20 * MiB;
const UP = 10 * MiB;
const POLL_MS = 200;
const OFFLOADS = process.env["KUOTA_TEST_OFFLOADS"] !== "off";
const MAX_OVER = OFFLOADS ? 0.015 : 0.06;
/**
 * Bound of the socat case. Its claim is "once, not twice" (twice reads +100 %); the counted leg is
 * sshd ⇄ socat on loopback, where one CI run under load read +2.0 % once (+0.17…0.82 % otherwise),
 * so framing and retransmissions there get the wire-size bound. The diagnostic says how many
 * segments the server namespace retransmitted during the transfer.
 */
const LOOPBACK_MAX_OVER = 0.06;

type Figures = { up: number; dn: number };

let rig: NetRig;
let alice: TestUser;
let bob: TestUser;
let outsider: TestUser;
let sshd: RunningDaemon;
let dropbear: RunningDaemon;
let web: Awaited<ReturnType<typeof startWebServer>>;
let worker: WorkerSandbox;
let table: SshCountingTable;
let uploadFile: string;
const clients: RunningClient[] = [];
/** Client ports of alice's `ssh -D` (SOCKS 1080) and `dbclient -L` (8080) sessions. */
const alicePorts = { socks: 0, forward: 0 };

before(async () => {
  rig = await createNetRig({ offloads: OFFLOADS });
  alice = await createTestUser({ shell: "/bin/sh" });
  bob = await createTestUser({ shell: "/bin/sh" });
  outsider = await createTestUser({ shell: "/bin/sh" });
  sshd = await startSshd(rig, { port: 22 });
  dropbear = await startDropbear(rig, { port: 109 });
  web = await startWebServer(rig);
  await startLoopbackProxy(rig, { listenPort: 2222, targetPort: 22 });
  uploadFile = randomFile(rig, "upload.bin", UP);
  table = new SshCountingTable(new Nft({ netns: rig.ns.server }), [22, 109]);

  const passwd = join(rig.dir, "passwd");
  const entry = (u: TestUser) => `${u.name}:x:${u.uid}:${u.uid}::/home/${u.name}:/bin/false`;
  writeFileSync(
    passwd,
    ["root:x:0:0:root:/root:/bin/bash", entry(alice), entry(bob), ""].join("\n"),
  );
  worker = new WorkerSandbox({
    SSH_ACCOUNTING: "true",
    SSH_PORTS: "22,109",
    SSH_AUTH_LOG: `${sshd.logFile},${dropbear.logFile}`,
    KUOTA_POLL_MS: String(POLL_MS),
    KUOTA_PASSWD_FILE: passwd,
  });
  await startWorker();
});

after(async () => {
  for (const client of clients.splice(0)) await client.stop();
  await worker?.cleanup();
  // the namespace goes with the rig; this only matters if a step above left it behind
  await table?.nft.run(`delete table ${TABLE}\n`).catch(() => undefined);
  await rig?.cleanup();
});

async function startWorker(): Promise<void> {
  const from = worker.logLines.length;
  await worker.start({}, { netns: rig.ns.server });
  for (let i = 0; i < 200; i++) {
    if (worker.logLines.slice(from).some((l) => l.includes("SSH accounting started"))) return;
    await sleep(50);
  }
  assert.fail(`SSH accounting did not start:\n${worker.logLines.slice(from).join("\n")}`);
}

function control(): ControlClient {
  return new ControlClient(worker.env["KUOTA_SOCKET"] as string);
}

async function usage(user: TestUser): Promise<Figures> {
  const view = await control()
    .request<{
      total_usage: { upload_bytes: number; download_bytes: number };
    }>("GET", `/v1/usage/${user.name}`)
    .catch((err: unknown) => {
      // a worker that died says why in its last lines
      throw new Error(`${String(err)}\n${worker.logLines.slice(-8).join("\n")}`, { cause: err });
    });
  return { up: view.total_usage.upload_bytes, dn: view.total_usage.download_bytes };
}

/** Usage once the worker has read everything: unchanged over four polls in a row. */
async function settled(user: TestUser): Promise<Figures> {
  let last = await usage(user);
  for (let same = 0; same < 4;) {
    await sleep(POLL_MS);
    const now = await usage(user);
    same = now.up === last.up && now.dn === last.dn ? same + 1 : 0;
    last = now;
  }
  return last;
}

/** Waits until the worker has mapped this client port to `user` in the server's nft maps. */
async function mapped(port: number, user: TestUser, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const sessions = await table.mappedSessions();
    if (sessions.some((s) => s.port === port && s.user === user.name)) return;
    await sleep(50);
  }
  assert.fail(`client port ${port} was not mapped to ${user.name} within ${timeoutMs} ms`);
}

/** The client-side port of the connection a client made to the server (from the server's ss). */
async function clientPort(daemonPort: number, exclude: ReadonlySet<number>): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const { stdout } = await rig.exec("server", "ss", [
      "-tnH",
      "state",
      "established",
      `( sport = :${daemonPort} )`,
    ]);
    for (const line of String(stdout).split("\n")) {
      const port = Number(/:(\d+)\s*$/.exec(line.trim().split(/\s+/).slice(-1)[0] ?? "")?.[1]);
      if (port > 0 && !exclude.has(port)) return port;
    }
    await sleep(50);
  }
  throw new Error(`no new connection to port ${daemonPort}`);
}

const seenPorts = new Set<number>();
let uploads = 0;

async function socks(user: TestUser, port: number, socksPort: number): Promise<number> {
  const client = await startSshSocks(rig, {
    user: user.name,
    password: user.password,
    host: rig.addr.serverForClient,
    port,
    socksPort,
  });
  clients.push(client);
  const peer = await clientPort(port === 2222 ? 22 : port, seenPorts);
  seenPorts.add(peer);
  return peer;
}

async function forward(user: TestUser, localPort: number): Promise<number> {
  const client = await startDbclientForward(rig, {
    user: user.name,
    password: user.password,
    host: rig.addr.serverForClient,
    port: dropbear.port,
    localPort,
    targetHost: rig.addr.web,
    targetPort: web.port,
  });
  clients.push(client);
  const peer = await clientPort(dropbear.port, seenPorts);
  seenPorts.add(peer);
  return peer;
}

/** curl in the client namespace through a SOCKS port or a forwarded port; body bytes moved. */
async function transfer(
  via: { socks: number } | { forward: number },
  what: { down: number } | { up: number },
  extra: string[] = [],
): Promise<number> {
  const base = "socks" in via ? web.url("") : `http://127.0.0.1:${via.forward}`;
  const args = [
    "-sS",
    "--fail",
    "-o",
    "/dev/null",
    "-w",
    "%{size_download} %{size_upload}",
    ...extra,
  ];
  if ("socks" in via) args.push("--socks5-hostname", `127.0.0.1:${via.socks}`);
  if ("up" in what)
    args.push("-T", what.up === UP ? uploadFile : randomFile(rig, `up-${++uploads}.bin`, what.up));
  args.push("down" in what ? `${base}/bytes?n=${what.down}` : `${base}/sink`);
  const { stdout } = await rig.exec("client", "curl", args, { timeout: 120_000 });
  const [down, up] = String(stdout).trim().split(" ").map(Number);
  const moved = "down" in what ? down : up;
  assert.equal(moved, "down" in what ? what.down : what.up, "curl moved the whole payload");
  return moved ?? 0;
}

function within(
  t: TestContext,
  counted: number,
  payload: number,
  what: string,
  bound = MAX_OVER,
): void {
  const over = (counted - payload) / payload;
  t.diagnostic(
    `${what}: counted ${counted} B for ${payload} B (${over >= 0 ? "+" : ""}${(over * 100).toFixed(3)} %, offloads ${OFFLOADS ? "on" : "off"})`,
  );
  assert.ok(
    over >= 0 && over <= bound,
    `${what}: counted ${counted} B for ${payload} B (${(over * 100).toFixed(3)} %, bound ${bound * 100} %)`,
  );
}

/** TCP segments the server namespace has retransmitted so far (/proc/net/snmp). */
async function retransmitted(): Promise<number> {
  const { stdout } = await rig.exec("server", "cat", ["/proc/net/snmp"]);
  const [names, values] = String(stdout)
    .split("\n")
    .filter((l) => l.startsWith("Tcp:"))
    .map((l) => l.split(/\s+/));
  const at = names?.indexOf("RetransSegs") ?? -1;
  return Number(values?.[at] ?? NaN);
}

/** Downloads DOWN, then uploads UP, checking each direction's growth of `user`'s usage. */
async function downThenUp(
  t: TestContext,
  user: TestUser,
  via: { socks: number } | { forward: number },
  label: string,
  bound = MAX_OVER,
): Promise<void> {
  const retransBefore = await retransmitted();
  const start = await settled(user);
  await transfer(via, { down: DOWN });
  const mid = await settled(user);
  await transfer(via, { up: UP });
  const end = await settled(user);
  t.diagnostic(`${label}: ${(await retransmitted()) - retransBefore} TCP segment(s) retransmitted`);
  within(t, mid.dn - start.dn, DOWN, `${label} download`, bound);
  within(t, end.up - mid.up, UP, `${label} upload`, bound);
}

describe("SSH accounting in the worker", () => {
  it("runs with the veth offloads it states", async (t) => {
    const state = await offloadState(rig, "server", "s0");
    t.diagnostic(`server s0: ${JSON.stringify(state)}`);
    assert.equal(state["tso"], OFFLOADS ? "on" : "off", "offload state as declared");
  });

  it(
    "1. counts 20 MiB down and 10 MiB up through OpenSSH ssh -D within +0…+1.5 %",
    { timeout: 60_000 },
    async (t) => {
      const port = await socks(alice, 22, 1080);
      alicePorts.socks = port;
      await mapped(port, alice);
      await downThenUp(t, alice, { socks: 1080 }, "openssh ssh -D");
    },
  );

  it(
    "1. counts 20 MiB down and 10 MiB up through Dropbear dbclient -L within +0…+1.5 %",
    { timeout: 60_000 },
    async (t) => {
      const port = await forward(alice, 8080);
      alicePorts.forward = port;
      await mapped(port, alice);
      await downThenUp(t, alice, { forward: 8080 }, "dropbear dbclient -L");
    },
  );

  it(
    "3. counts a session through socat on 127.0.0.1 once, not twice",
    { timeout: 60_000 },
    async (t) => {
      const port = await socks(alice, 2222, 1081);
      await mapped(port, alice);
      assert.ok(
        (await table.mappedSessions()).some((s) => s.ip === "127.0.0.1" && s.port === port),
        "keyed on the proxy's loopback address",
      );
      await downThenUp(t, alice, { socks: 1081 }, "openssh via socat", LOOPBACK_MAX_OVER);
    },
  );

  it(
    "2. sums one account's OpenSSH and Dropbear sessions at once; another account stays still",
    { timeout: 60_000 },
    async (t) => {
      const bobPort = await socks(bob, 22, 1082);
      await mapped(bobPort, bob);
      const bobBefore = await settled(bob);
      const start = await settled(alice);
      await Promise.all([
        transfer({ socks: 1080 }, { down: DOWN / 2 }),
        transfer({ forward: 8080 }, { down: DOWN / 2 }),
      ]);
      const mid = await settled(alice);
      await Promise.all([
        transfer({ socks: 1080 }, { up: UP / 2 }),
        transfer({ forward: 8080 }, { up: UP / 2 }),
      ]);
      const end = await settled(alice);
      within(t, mid.dn - start.dn, DOWN, "two sessions' download");
      within(t, end.up - mid.up, UP, "two sessions' upload");
      assert.deepEqual(await settled(bob), bobBefore, "the other account's usage did not move");
    },
  );

  it(
    "6. ignores login lines naming root or an account kuota does not manage",
    { timeout: 60_000 },
    async (t) => {
      const aliceSessions = (await table.mappedSessions()).filter((s) => s.user === alice.name);
      const victim = aliceSessions[0];
      assert.ok(victim, "alice has a mapped session");
      // forged lines claiming alice's live connection, then a real login of an unmanaged user
      appendFileSync(
        sshd.logFile,
        `Accepted password for root from ${victim.ip} port ${victim.port} ssh2\n`,
      );
      appendFileSync(
        sshd.logFile,
        `Accepted password for ${outsider.name} from ${victim.ip} port ${victim.port} ssh2\n`,
      );
      const aliceBefore = await settled(alice);
      const bobBefore = await settled(bob);
      const outsiderPort = await socks(outsider, 22, 1083);
      await transfer({ socks: 1083 }, { down: 2 * MiB });
      await sleep(1000);
      assert.deepEqual(await settled(alice), aliceBefore, "alice's usage did not move");
      assert.deepEqual(await settled(bob), bobBefore, "bob's usage did not move");
      const sessions = await table.mappedSessions();
      assert.ok(
        sessions.some((s) => s.port === victim.port && s.user === alice.name),
        "alice's session is still hers",
      );
      assert.ok(
        !sessions.some((s) => s.port === outsiderPort),
        "the outsider's session is not mapped",
      );
      const names = [...(await table.readUsage()).keys()];
      t.diagnostic(`accounts with counters: ${names.join(", ")}`);
      assert.ok(
        !names.includes("root") && !names.includes(outsider.name),
        "no counters for root or the outsider",
      );
      assert.equal(
        (
          await control().request<{ accounts: { name: string }[] }>("GET", "/v1/usage")
        ).accounts.some((a) => a.name === outsider.name),
        false,
        "the outsider is not an account",
      );
    },
  );

  it(
    "7. survives malformed, truncated and hostile login lines and keeps reading",
    { timeout: 60_000 },
    async () => {
      const long = "a".repeat(1024);
      const hostile = [
        `Accepted password for ${long} from 10.9.9.1 port 4001 ssh2`,
        `Accepted password for $(touch /tmp/kq-pwned) from 10.9.9.1 port 4002 ssh2`,
        `Accepted password for alice"; nft flush ruleset; " from 10.9.9.1 port 4003 ssh2`,
        `Accepted password for ${bob.name} x from 10.9.9.1 port 4004 ssh2`,
        `[123] Jan  1 00:00:00 Password auth succeeded for '${bob.name}' ' from 10.9.9.1:4005`,
        `[124] Jan  1 00:00:00 Password auth succeeded for 'a b' from 10.9.9.1:4006`,
        `Accepted password for ${bob.name} from 10.9.`,
        `Accepted password for ${bob.name} from 10.9.9.1 port 99999 ssh2`,
        "\u0000\u0001\u00ff garbage \u202e",
        "x".repeat(100_000),
        `{"MESSAGE": "Accepted password for ${bob.name} from 10.9.9.1 port 4007 ssh2", "SYSLOG_IDENTIFIER": 5`,
      ];
      appendFileSync(sshd.logFile, hostile.join("\n") + "\n");
      appendFileSync(
        dropbear.logFile,
        `[1] Jan  1 00:00:00 Password auth succeeded for '$(id)' from 10.9.9.1:4008\n`,
      );
      // half a line, then the rest: one line once complete
      appendFileSync(sshd.logFile, `Accepted password for ${bob.name} from 10.9.9.2 `);
      await sleep(600);
      appendFileSync(sshd.logFile, `port 4242 ssh2\n`);
      await mapped(4242, bob);
      const sessions = await table.mappedSessions();
      assert.deepEqual(
        sessions.filter((s) => s.ip.startsWith("10.9.9.")).map((s) => `${s.ip}:${s.port}`),
        ["10.9.9.2:4242"],
        "only the well-formed line mapped a session",
      );
      const status = await control().request<StatusView>("GET", "/v1/status");
      assert.equal(status.ssh?.enabled, true, "SSH accounting still runs");
    },
  );

  it(
    "5. continues from the stored totals after `nft flush ruleset` in the server namespace",
    { timeout: 60_000 },
    async (t) => {
      const before = await settled(alice);
      const kernelBefore = (await table.readUsage()).get(alice.name);
      assert.ok(kernelBefore, "alice has counters");
      await rig.exec("server", "nft", ["flush", "ruleset"]);
      const deadline = Date.now() + 15_000;
      let kernelAfter = (await table.readUsage()).get(alice.name);
      while (!kernelAfter && Date.now() < deadline) {
        await sleep(100);
        kernelAfter = (await table.readUsage()).get(alice.name);
      }
      assert.ok(kernelAfter, "alice's counters were recreated");
      assert.equal(
        kernelAfter.dn.bytes,
        kernelBefore.dn.bytes,
        "download counter restored to its stored value",
      );
      assert.equal(
        kernelAfter.up.bytes,
        kernelBefore.up.bytes,
        "upload counter restored to its stored value",
      );
      const db = new Database(worker.env["KUOTA_DB"] as string, { readonly: true });
      const stored = db
        .prepare("SELECT raw FROM counter_baselines WHERE source = 'ssh' AND counter = ?")
        .get(`u_${alice.name}_dn`) as { raw: number };
      db.close();
      assert.equal(
        stored.raw,
        kernelAfter.dn.bytes,
        "the stored baseline is the kernel's absolute value",
      );
      assert.deepEqual(await settled(alice), before, "totals neither reset nor doubled");
      // both live sessions are mapped again and count
      await mapped(alicePorts.socks, alice);
      await mapped(alicePorts.forward, alice);
      const start = await settled(alice);
      await Promise.all([
        transfer({ socks: 1080 }, { down: 2 * MiB }),
        transfer({ forward: 8080 }, { down: 2 * MiB }),
      ]);
      within(
        t,
        (await settled(alice)).dn - start.dn,
        4 * MiB,
        "after the flush, two sessions' download",
      );
    },
  );

  it(
    "4. loses nothing of mapped sessions when the worker is killed -9 during a transfer",
    { timeout: 60_000 },
    async (t) => {
      const start = await settled(alice);
      const running = transfer({ socks: 1080 }, { down: DOWN }, ["--limit-rate", "8M"]);
      await sleep(1000);
      await worker.kill9();
      await sleep(300);
      await startWorker();
      await running;
      within(t, (await settled(alice)).dn - start.dn, DOWN, "download across a kill -9");
    },
  );

  it(
    "4. counts a session that logged in while the worker was down from the worker's return",
    { timeout: 60_000 },
    async (t) => {
      const beforeStop = await settled(alice);
      await worker.stop();
      const dbPort = await forward(alice, 8081);
      const sshPort = await socks(alice, 22, 1084);
      const start = (await settled(alice).catch(() => null)) ?? null;
      assert.equal(start, null, "the worker is down");
      // traffic while the worker is down crosses unmapped connections: counted nowhere
      await transfer({ forward: 8081 }, { down: MiB });
      await startWorker();
      await mapped(dbPort, alice);
      await mapped(sshPort, alice);
      const back = await settled(alice);
      t.diagnostic(`counted of the 1 MiB moved while down: ${back.dn - beforeStop.dn} B`);
      assert.ok(back.dn - beforeStop.dn < MiB, "what crossed while down was not counted (the gap)");
      const later = 5 * MiB;
      await Promise.all([
        transfer({ forward: 8081 }, { down: later }),
        transfer({ socks: 1084 }, { down: later }),
      ]);
      // lower bound: the payload moved after the return (2 x 5 MiB); the 1 MiB before is not counted
      within(
        t,
        (await settled(alice)).dn - back.dn,
        2 * later,
        "sessions opened while down, after the return",
      );
    },
  );

  it("logged no errors, and noticed the flush at once", () => {
    const errors = worker.logLines.filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors, [], "no error lines");
    assert.ok(
      worker.logLines.some((l) => l.includes("SSH counters vanished")),
      "the flush was detected by the counter read",
    );
  });
});
