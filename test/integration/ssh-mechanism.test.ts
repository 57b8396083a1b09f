/**
 * The SSH counting mechanism on its own, without the worker: kuota's nft table in the server
 * namespace, sessions mapped from the daemons' real login lines, real sshd/dropbear/ssh/dbclient
 * and curl moving exact payloads. Offloads: see OFFLOADS below.
 */
import { after, afterEach, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { createNetRig, offloadState, type NetRig } from "../rig/netns.js";
import { createTestUser, type TestUser } from "../rig/linux-users.js";
import {
  curl,
  randomFile,
  startDbclientForward,
  startDropbear,
  startLoopbackProxy,
  startSshd,
  startSshSocks,
  startWebServer,
  waitForLogLine,
  type RunningClient,
  type RunningDaemon,
} from "../rig/ssh-servers.js";
import { parseLoginLine, type LoginLine } from "../../src/collect/ssh/login-line.js";
import { Nft } from "../../src/collect/ssh/nft.js";
import { SshCountingTable } from "../../src/collect/ssh/ssh-table.js";
import { TABLE } from "../../src/collect/ssh/nft-ruleset.js";
import { findLiveSessions } from "../../src/collect/ssh/live-sessions.js";

const MiB = 1024 * 1024;
const DOWN = 20 * MiB;
const UP = 10 * MiB;
/**
 * nft counts L3 bytes per kernel buffer. With veth offloads on (TSO/GRO, what a seller's NIC
 * does) a 64 KB segment carries one header; with them off every 1448-byte segment carries 52
 * header bytes (+3.6 %), so counts match the wire rather than the payload. The bound,
 * +0 % … +1.5 % of payload, holds with offloads on; that is how this file runs by default.
 * KUOTA_TEST_OFFLOADS=off runs it the other way with a wire-sized bound.
 */
const OFFLOADS = process.env["KUOTA_TEST_OFFLOADS"] !== "off";
const MAX_OVER = OFFLOADS ? 0.015 : 0.06;

describe("SSH accounting mechanism: client leg counted through nft maps", () => {
  let rig: NetRig;
  let account: TestUser;
  let sshd: RunningDaemon;
  let dropbear: RunningDaemon;
  let webUrl: (path: string) => string;
  let webPort: number;
  let table: SshCountingTable;
  let uploadFile: string;

  before(async () => {
    rig = await createNetRig({ offloads: OFFLOADS });
    // Dropbear refuses accounts whose shell is missing from /etc/shells
    account = await createTestUser({ shell: "/bin/sh" });
    sshd = await startSshd(rig, { port: 22 });
    dropbear = await startDropbear(rig, { port: 109 });
    const web = await startWebServer(rig);
    webUrl = web.url;
    webPort = web.port;
    uploadFile = randomFile(rig, "upload.bin", UP);
    table = new SshCountingTable(new Nft({ netns: rig.ns.server }), [22, 109]);
    await table.ensure();
  });

  const clients: RunningClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.stop();
  });

  after(async () => {
    await table?.nft.run(`delete table ${TABLE}\n`).catch(() => undefined);
  });

  it("states the veth offload setting it measures with", { timeout: 120_000 }, async (t) => {
    const state = await offloadState(rig, "server", "s0");
    t.diagnostic(`server s0 offloads: ${JSON.stringify(state)}`);
    assert.equal(state["tso"], OFFLOADS ? "on" : "off");
  });

  it(
    "counts 20 MiB down and 10 MiB up through OpenSSH `ssh -D` within the bound",
    { timeout: 120_000 },
    async (t) => {
      const from = statSync(sshd.logFile).size;
      const client = await startSshSocks(rig, {
        user: account.name,
        password: account.password,
        host: rig.addr.serverForClient,
        port: sshd.port,
        socksPort: 1080,
      });
      clients.push(client);
      const login = await loginOf(sshd.logFile, account.name, from);
      assert.equal(login.daemon, "openssh");
      assert.equal(login.ip, rig.addr.client);
      await table.mapSession(login, login.user);

      const socks = "127.0.0.1:1080";
      await downloadThenUpload(
        t,
        "openssh",
        () => curl(rig, { url: webUrl(`/bytes?n=${DOWN}`), socks }),
        () => curl(rig, { url: webUrl("/sink"), socks, uploadFile }),
      );
      await table.unmapSession(login);
    },
  );

  it(
    "counts 20 MiB down and 10 MiB up through Dropbear `dbclient -L` within the bound",
    { timeout: 120_000 },
    async (t) => {
      const from = statSync(dropbear.logFile).size;
      const client = await startDbclientForward(rig, {
        user: account.name,
        password: account.password,
        host: rig.addr.serverForClient,
        port: dropbear.port,
        localPort: 8080,
        targetHost: rig.addr.web,
        targetPort: webPort,
      });
      clients.push(client);
      const login = await loginOf(dropbear.logFile, account.name, from);
      assert.equal(login.daemon, "dropbear");
      assert.ok(login.pid, "dropbear's login line carries its pid");
      await table.mapSession(login, login.user);

      await downloadThenUpload(
        t,
        "dropbear",
        () => curl(rig, { url: `http://127.0.0.1:8080/bytes?n=${DOWN}` }),
        () => curl(rig, { url: "http://127.0.0.1:8080/sink", uploadFile }),
      );
      await table.unmapSession(login);
    },
  );

  it(
    "counts a session behind a local proxy on 127.0.0.1 once, not twice",
    { timeout: 120_000 },
    async (t) => {
      await startLoopbackProxy(rig, { listenPort: 2222, targetPort: sshd.port });
      const from = statSync(sshd.logFile).size;
      const client = await startSshSocks(rig, {
        user: account.name,
        password: account.password,
        host: rig.addr.serverForClient,
        port: 2222,
        socksPort: 1081,
      });
      clients.push(client);
      const login = await loginOf(sshd.logFile, account.name, from);
      assert.equal(login.ip, "127.0.0.1", "the daemon sees the proxy's loopback connection");
      await table.mapSession(login, login.user);

      // twice would show as +100 %; loopback's 64 KiB MTU keeps the per-packet share small
      const socks = "127.0.0.1:1081";
      await downloadThenUpload(
        t,
        "openssh via socat",
        () => curl(rig, { url: webUrl(`/bytes?n=${DOWN}`), socks }),
        () => curl(rig, { url: webUrl("/sink"), socks, uploadFile }),
      );
      await table.unmapSession(login);
    },
  );

  it(
    "finds sessions that logged in before kuota mapped them, from live sockets",
    { timeout: 120_000 },
    async (t) => {
      const sshFrom = statSync(sshd.logFile).size;
      const dropbearFrom = statSync(dropbear.logFile).size;
      const ssh = await startSshSocks(rig, {
        user: account.name,
        password: account.password,
        host: rig.addr.serverForClient,
        port: sshd.port,
        socksPort: 1082,
      });
      clients.push(ssh);
      const db = await startDbclientForward(rig, {
        user: account.name,
        password: account.password,
        host: rig.addr.serverForClient,
        port: dropbear.port,
        localPort: 8081,
        targetHost: rig.addr.web,
        targetPort: webPort,
      });
      clients.push(db);
      const sshLogin = await loginOf(sshd.logFile, account.name, sshFrom);
      const dbLogin = await loginOf(dropbear.logFile, account.name, dropbearFrom);
      assert.ok(dbLogin.pid);

      const live = await findLiveSessions({
        sshPorts: [22, 109],
        netns: rig.ns.server,
        dropbearUsers: new Map([[dbLogin.pid, dbLogin.user]]),
      });
      t.diagnostic(`live sessions: ${JSON.stringify(live)}`);
      const liveSsh = live.find((s) => s.daemon === "openssh" && s.port === sshLogin.port);
      const liveDb = live.find((s) => s.daemon === "dropbear" && s.port === dbLogin.port);
      // `sshd -E` writes no pid; the rebuild names the `[priv]` monitor
      assert.ok(liveSsh && liveSsh.pid > 0);
      assert.deepEqual({ ...liveSsh, pid: 0 }, { ...pick(sshLogin), pid: 0, daemon: "openssh" });
      assert.deepEqual(liveDb, { ...pick(dbLogin), daemon: "dropbear" });

      // a Dropbear child nobody told us about is listed with an unknown account
      const anonymous = await findLiveSessions({ sshPorts: [109], netns: rig.ns.server });
      assert.equal(anonymous.find((s) => s.port === dbLogin.port)?.user, null);

      for (const session of [liveSsh, liveDb]) {
        if (session?.user) await table.mapSession(session, session.user);
      }
      const counted = await measure(t, "rebuilt", async () => {
        await curl(rig, { url: webUrl(`/bytes?n=${MiB}`), socks: "127.0.0.1:1082" });
        await curl(rig, { url: `http://127.0.0.1:8081/bytes?n=${MiB}` });
      });
      assertWithin(counted.dn, 2 * MiB, "download");
      await table.unmapSession(sshLogin);
      await table.unmapSession(dbLogin);
    },
  );

  it(
    "keeps counters when the table is ensured again and restores missing ones",
    { timeout: 120_000 },
    async () => {
      const before = (await table.readUsage()).get(account.name);
      assert.ok(before && before.dn.bytes > 0);
      await table.ensure(new Map([[account.name, { up: ZERO, dn: ZERO }]]));
      assert.deepEqual((await table.readUsage()).get(account.name), before);

      await table.deleteAccount(account.name);
      assert.equal((await table.readUsage()).has(account.name), false);
      await table.ensure(new Map([[account.name, before]]));
      assert.deepEqual((await table.readUsage()).get(account.name), before);
    },
  );

  /**
   * Downloads, then uploads, and checks each direction's counter over its own transfer: the
   * download against DOWN, the upload against UP. The acks each transfer sends the other way are
   * counted too (they crossed the customer's link) and reported, not bounded.
   */
  async function downloadThenUpload(
    t: TestContext,
    label: string,
    download: () => Promise<{ downloaded: number }>,
    upload: () => Promise<{ uploaded: number }>,
  ): Promise<void> {
    let moved = 0;
    const down = await measure(t, `${label} download`, async () => {
      moved = (await download()).downloaded;
    });
    assert.equal(moved, DOWN, "curl downloaded the whole payload");
    const up = await measure(t, `${label} upload`, async () => {
      moved = (await upload()).uploaded;
    });
    assert.equal(moved, UP, "curl uploaded the whole payload");
    const total = down.up + down.dn + up.up + up.dn;
    t.diagnostic(
      `${label}: download ${percent(down.dn, DOWN)}, upload ${percent(up.up, UP)}, ` +
        `both directions together ${percent(total, DOWN + UP)}`,
    );
    assertWithin(down.dn, DOWN, "download");
    assertWithin(up.up, UP, "upload");
  }

  /** Counter bytes the account gained while `transfer` ran. */
  async function measure(
    t: TestContext,
    label: string,
    transfer: () => Promise<void>,
  ): Promise<{ up: number; dn: number }> {
    const start = (await table.readUsage()).get(account.name);
    await transfer();
    const end = (await table.readUsage()).get(account.name);
    assert.ok(end, "the account has counters");
    const up = end.up.bytes - (start?.up.bytes ?? 0);
    const dn = end.dn.bytes - (start?.dn.bytes ?? 0);
    t.diagnostic(
      `${label}: counted up ${up} B, down ${dn} B (offloads ${OFFLOADS ? "on" : "off"})`,
    );
    return { up, dn };
  }
});

const ZERO = { packets: 0, bytes: 0 };

function percent(counted: number, payload: number): string {
  const over = ((counted - payload) / payload) * 100;
  return `${counted} B for ${payload} B (${over >= 0 ? "+" : ""}${over.toFixed(2)} %)`;
}

function assertWithin(counted: number, payload: number, what: string): void {
  const over = (counted - payload) / payload;
  assert.ok(
    over >= 0 && over <= MAX_OVER,
    `${what}: counted ${counted} B for ${payload} B of payload (${(over * 100).toFixed(2)} %)`,
  );
}

async function loginOf(file: string, user: string, fromOffset: number): Promise<LoginLine> {
  const { line } = await waitForLogLine(
    file,
    (l) => {
      const parsed = parseLoginLine(l);
      return parsed?.event === "login" && parsed.user === user;
    },
    { fromOffset },
  );
  const login = parseLoginLine(line);
  assert.ok(login);
  return login;
}

function pick(login: LoginLine): { user: string; ip: string; port: number; pid: number } {
  return { user: login.user, ip: login.ip, port: login.port, pid: login.pid ?? 0 };
}
