// The v2ray rig itself: real v2ray 4.34 server and clients, curl through SOCKS5, and the engine's
// user counters checked against curl's figures (downlink = size_header + size_download,
// uplink = size_request + size_upload).
// Every assert.ok has a message: without one, Node re-reads the tsx-compiled source to build it and
// can spin for minutes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { curlDownload, curlUpload, startCurlDownload } from "../rig/curl.js";
import { type PayloadServer, startPayloadServer } from "../rig/payload-server.js";
import {
  makeAccount,
  type Protocol,
  type RigAccount,
  type RigClient,
  type RigServer,
  settleUserTraffic,
  startV2ray,
  startV2rayClient,
  startV2rayServer,
  userTraffic,
  v2ctlQuery,
  v2ctlSysStats,
} from "../rig/v2ray.js";

const MiB = 1024 * 1024;
const PROTOCOLS: Protocol[] = ["vmess", "vless", "trojan", "shadowsocks"];

describe("v2ray rig", () => {
  let payload: PayloadServer;
  let server: RigServer;
  const accounts = new Map<string, RigAccount>(
    [
      ...PROTOCOLS.map((p) => makeAccount(p, `${p}-user`)),
      makeAccount("vless", "vless-ws-user"),
    ].map((a) => [a.email, a]),
  );
  const clients = new Map<string, RigClient>();

  before(async () => {
    payload = await startPayloadServer();
    server = await startV2rayServer({ accounts: [...accounts.values()], ws: true });
    for (const account of accounts.values()) {
      const transport = account.email === "vless-ws-user" ? "ws" : "tcp";
      clients.set(account.email, await startV2rayClient(server, account, { transport }));
    }
  });
  after(async () => {
    for (const client of clients.values()) await client.v2ray.remove();
    await server.v2ray.remove();
    await payload.close();
  });

  function client(email: string): RigClient {
    const found = clients.get(email);
    assert.ok(found, `no client for ${email}`);
    return found;
  }

  async function downloadAndUpload(email: string): Promise<{ uplink: number; downlink: number }> {
    const { socksPort } = client(email);
    const down = await curlDownload(payload.bytesUrl(10 * MiB), { socksPort });
    const up = await curlUpload(payload.sinkUrl(), { bytes: 5 * MiB }, { socksPort });
    assert.equal(down.sizeDownload, 10 * MiB);
    assert.equal(up.sizeUpload, 5 * MiB);
    return {
      uplink: down.uplinkBytes + up.uplinkBytes,
      downlink: down.downlinkBytes + up.downlinkBytes,
    };
  }

  const cases = [...PROTOCOLS.map((p) => [p, `${p}-user`]), ["vless over ws", "vless-ws-user"]];
  for (const [label, email] of cases as [string, string][]) {
    test(`counts a 10 MiB download and a 5 MiB upload through ${label} to the byte`, async (t) => {
      const expected = await downloadAndUpload(email);
      const counted = await settleUserTraffic(server.apiPort, email, expected);
      t.diagnostic(
        `${label}: curl up ${expected.uplink} down ${expected.downlink}; ` +
          `counted up ${counted.uplink} down ${counted.downlink}`,
      );
      assert.deepEqual(counted, expected);
    });
  }

  test("keeps accounts apart: nobody else's counter moves", async () => {
    const before = await v2ctlQuery(server.apiPort, { pattern: "user>>>" });
    await curlDownload(payload.bytesUrl(MiB), { socksPort: client("vless-user").socksPort });
    await sleep(100);
    const after = await v2ctlQuery(server.apiPort, { pattern: "user>>>" });
    for (const email of accounts.keys()) {
      if (email === "vless-user") continue;
      assert.deepEqual(userTraffic(after, email), userTraffic(before, email), email);
    }
  });

  test("writes access log lines naming the source and the email", () => {
    // v2ray 4.34 names the outbound only ("[direct]"); Xray writes "[vless-in -> direct]".
    const log = readFileSync(server.v2ray.accessLog, "utf8");
    const line = /^\S+ \S+ 127\.0\.0\.1:\d+ accepted tcp:127\.0\.0\.1:\d+ \[direct\] email: /;
    for (const email of accounts.keys()) {
      assert.match(log, new RegExp(line.source + email.replace(/\./g, "\\.") + "$", "m"), email);
    }
  });

  test("paces transfers on the server side and still counts them exactly", async (t) => {
    const email = "trojan-user";
    const { socksPort } = client(email);
    const start = userTraffic(await v2ctlQuery(server.apiPort), email);
    const t0 = Date.now();
    const down = await curlDownload(payload.bytesUrl(MiB, { rate: 2 * MiB }), { socksPort });
    const downMs = Date.now() - t0;
    const up = await curlUpload(payload.sinkUrl({ rate: 2 * MiB }), { bytes: MiB }, { socksPort });
    const upMs = Date.now() - t0 - downMs;
    t.diagnostic(`1 MiB at 2 MiB/s: download ${downMs} ms, upload ${upMs} ms`);
    assert.ok(downMs >= 400 && upMs >= 300, `too fast: ${downMs} / ${upMs} ms`);
    const expected = {
      uplink: start.uplink + down.uplinkBytes + up.uplinkBytes,
      downlink: start.downlink + down.downlinkBytes + up.downlinkBytes,
    };
    assert.deepEqual(await settleUserTraffic(server.apiPort, email, expected), expected);
  });

  test("restart: uptime drops to 0 and every counter starts again from nothing", async (t) => {
    const email = "vless-user";
    const { socksPort } = client(email);
    while ((await v2ctlSysStats(server.apiPort)).Uptime === 0) await sleep(100);
    const uptimeBefore = (await v2ctlSysStats(server.apiPort)).Uptime;
    const countersBefore = await v2ctlQuery(server.apiPort);

    const pidBefore = server.v2ray.pid;
    const t0 = Date.now();
    await server.v2ray.restart();
    const restartMs = Date.now() - t0;
    const uptimeAfter = (await v2ctlSysStats(server.apiPort)).Uptime;
    const countersAfter = await v2ctlQuery(server.apiPort);
    const users = (stats: Map<string, number>): string[] =>
      [...stats.keys()].filter((name) => name.startsWith("user>>>"));
    t.diagnostic(
      `SIGTERM restart: ${restartMs} ms, pid ${pidBefore} -> ${server.v2ray.pid}, ` +
        `uptime ${uptimeBefore} -> ${uptimeAfter}, counters ${countersBefore.size} ` +
        `(${users(countersBefore).length} user) -> ${countersAfter.size} ` +
        `(${users(countersAfter).length} user, inbound/outbound ones all 0)`,
    );
    assert.notEqual(server.v2ray.pid, pidBefore);
    assert.equal(uptimeAfter, 0);
    assert.deepEqual(users(countersAfter), [], "user counters are gone until the next connection");
    // Inbound/outbound counters exist from the start; only api-in has moved (this very query).
    for (const [name, value] of countersAfter) {
      if (!name.includes(">>>api-in>>>") && !name.includes(">>>api>>>"))
        assert.equal(value, 0, name);
    }

    // Counting after a restart is exact again, from zero.
    const figures = await curlDownload(payload.bytesUrl(2 * MiB), { socksPort });
    const expected = { uplink: figures.uplinkBytes, downlink: figures.downlinkBytes };
    assert.deepEqual(await settleUserTraffic(server.apiPort, email, expected), expected);

    // kill -9 then start: the same.
    await server.v2ray.kill9();
    await assert.rejects(v2ctlSysStats(server.apiPort));
    await server.v2ray.restart();
    assert.equal((await v2ctlSysStats(server.apiPort)).Uptime, 0);
    assert.deepEqual(users(await v2ctlQuery(server.apiPort)), []);
  });

  test("restart in the middle of a transfer: curl fails, the counters lose it all", async (t) => {
    const email = "vmess-user";
    const { socksPort } = client(email);
    const run = startCurlDownload(payload.bytesUrl(64 * MiB, { rate: 4 * MiB }), { socksPort });
    await sleep(1000);
    const beforeRestart = userTraffic(await v2ctlQuery(server.apiPort), email);
    await server.v2ray.restart();
    const result = await run.result;
    const afterRestart = userTraffic(await v2ctlQuery(server.apiPort), email);
    t.diagnostic(
      `mid-transfer restart: counted ${beforeRestart.downlink} B down before; curl exit ` +
        `${result.exitCode} after ${result.figures?.sizeDownload} B; counters after ` +
        `${afterRestart.uplink}/${afterRestart.downlink}`,
    );
    assert.ok(beforeRestart.downlink > MiB, `only ${beforeRestart.downlink} B counted after 1 s`);
    assert.ok(beforeRestart.downlink < 6 * MiB, `${beforeRestart.downlink} B in 1 s at 4 MiB/s`);
    assert.notEqual(result.exitCode, 0, "the proxied connection dies with the engine");
    assert.deepEqual(afterRestart, { uplink: 0, downlink: 0 });
  });
});

test("a config with // and # comment lines loads and counts", async () => {
  const payload = await startPayloadServer();
  const account = makeAccount("vless", "commented-user");
  const server = await startV2rayServer({ accounts: [account], format: "commented", name: "cmt" });
  try {
    const text = readFileSync(server.v2ray.configPath, "utf8");
    assert.match(text, /^\/\/ /m);
    assert.match(text, /^#vless$/m);
    assert.match(text, /^### commented-user 2099-12-31$/m);

    // The same text handed over as a string starts too (ports read past the comments).
    await server.v2ray.stop();
    const again = await startV2ray(text, { name: "cmt-text" });
    const client = await startV2rayClient(server, account);
    const figures = await curlDownload(payload.bytesUrl(MiB), { socksPort: client.socksPort });
    const expected = { uplink: figures.uplinkBytes, downlink: figures.downlinkBytes };
    assert.deepEqual(await settleUserTraffic(server.apiPort, account.email, expected), expected);
    await client.v2ray.remove();
    await again.remove();
  } finally {
    await server.v2ray.remove();
    await payload.close();
  }
});
