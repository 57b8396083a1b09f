/**
 * Issue 4's acceptance for Xray accounts against Debian's real v2ray 4.34: accounts created with
 * the CLI carry traffic through a real client configured from the share link alone; deleting one
 * mid-download stops it; the commented config round-trips; refusals change nothing.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  makeAccount,
  startV2ray,
  startV2rayClient,
  startV2rayServer,
  type RigServer,
} from "../rig/v2ray.js";
import { clientFromLink } from "../rig/share-link-client.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import { CurlError, curlDownload, startCurlDownload } from "../rig/curl.js";
import { freePort } from "../rig/ports.js";
import { WorkerSandbox } from "../rig/worker.js";
import { createTestUser } from "../rig/linux-users.js";
import { ControlClient } from "../../src/control/client.js";
import { readXrayConfig } from "../../src/accounts/xray-config.js";
import type { CreatedAccount, DeletionReport } from "../../src/control/api.js";

const MiB = 1024 * 1024;
const keep = makeAccount("vless", "keep-vl");

let server: RigServer;
let payload: PayloadServer;
let worker: WorkerSandbox;
let original: string;
const created = new Map<string, CreatedAccount>();
const clientPorts = new Map<string, number>();

before(async () => {
  server = await startV2rayServer({
    accounts: [
      keep,
      makeAccount("vmess", "keep-vm"),
      makeAccount("trojan", "keep-tr"),
      makeAccount("shadowsocks", "keep-ss"),
    ],
    format: "commented",
  });
  original = readFileSync(server.v2ray.configPath, "utf8");
  payload = await startPayloadServer();
  worker = new WorkerSandbox({
    XRAY_API: `127.0.0.1:${server.apiPort}`,
    XRAY_CONFIG: server.v2ray.configPath,
    KUOTA_PUBLIC_HOST: "127.0.0.1",
    KUOTA_PASSWD_FILE: "/etc/passwd",
    KUOTA_POLL_MS: "200",
  });
  await worker.start();
  await worker.waitForLog(/"engine connected"/);
});

after(async () => {
  await worker?.stop();
});

async function cliCreate(protocol: string, name: string): Promise<CreatedAccount> {
  const result = await worker.cli(["account", "add", protocol, name, "--limit", "1.5GB", "--json"]);
  assert.equal(result.code, 0, `kuota account add ${protocol} ${name}: ${result.stderr}`);
  const answer = JSON.parse(result.stdout) as CreatedAccount;
  created.set(name, answer);
  return answer;
}

async function startLinkClient(name: string): Promise<number> {
  const answer = created.get(name);
  assert.ok(answer?.links[0], `${name} has a share link`);
  const socksPort = await freePort();
  await startV2ray(clientFromLink(answer.links[0], socksPort), { name: `link-${name}` });
  clientPorts.set(name, socksPort);
  return socksPort;
}

test("VLESS, VMess and Trojan accounts made by the CLI carry traffic through clients set up from their share links alone", async () => {
  for (const protocol of ["vless", "vmess", "trojan"] as const) {
    const name = `new-${protocol}`;
    const answer = await cliCreate(protocol, name);
    assert.equal(answer.account.limit_bytes, 1.5 * 1024 ** 3, "1.5GB is 1.5 x 1024^3 bytes");
    assert.equal(answer.links.length, 1, `one ${protocol} inbound, one link`);
    assert.deepEqual(answer.notes, [], `no notes for ${protocol}: ${answer.notes?.join("; ")}`);
    const socksPort = await startLinkClient(name);
    const figures = await curlDownload(payload.bytesUrl(2 * MiB), { socksPort });
    assert.equal(figures.sizeDownload, 2 * MiB, `${protocol} download`);
  }
});

test("only the added clients differ from the commented config, and v2ray loads it after a restart", async () => {
  const text = readFileSync(server.v2ray.configPath, "utf8");
  const before = original.split("\n");
  const now = text.split("\n");
  // every original line is still there, in order, except that one line per inbound gained a comma
  let j = 0;
  for (const line of before) {
    while (j < now.length && now[j] !== line && now[j] !== `${line},`) {
      assert.match(
        now[j] ?? "",
        /new-(vless|vmess|trojan)|"(id|password|alterId|level|email)"|^\s*[{}],?$/,
        "added line",
      );
      j++;
    }
    assert.ok(j < now.length, `original line kept: ${line}`);
    j++;
  }
  assert.ok(text.includes("// kuota test rig") && text.includes("### keep-vl"), "comments kept");
  await server.v2ray.restart();
  for (const name of ["new-vless", "new-vmess", "new-trojan"]) {
    const figures = await curlDownload(payload.bytesUrl(MiB), {
      socksPort: clientPorts.get(name) as number,
    });
    assert.equal(figures.sizeDownload, MiB, `${name} after the restart`);
  }
});

test("deleting a VLESS account mid-download stops the download within 1 s; its UUID is refused; others keep working", async (t) => {
  const name = "new-vless";
  const socksPort = clientPorts.get(name) as number;
  const run = startCurlDownload(payload.bytesUrl(400 * MiB, { rate: 4 * MiB }), {
    socksPort,
    maxTimeSec: 30,
  });
  const start = payload.bytesSent();
  while (payload.bytesSent() - start < 2 * MiB) await sleep(20);

  const socket = new ControlClient(worker.env["KUOTA_SOCKET"] as string);
  const t0 = performance.now();
  const report = await socket.request<DeletionReport>("DELETE", `/v1/accounts/${name}`, {
    reason: "acceptance test",
  });
  const answered = performance.now() - t0;
  assert.equal(report.complete, true, JSON.stringify(report.steps));
  // the last byte the payload server handed over, measured from the moment the delete was sent
  let last = payload.bytesSent();
  let lastGrowth = performance.now();
  while (performance.now() - lastGrowth < 1500) {
    await sleep(10);
    const now = payload.bytesSent();
    if (now !== last) {
      last = now;
      lastGrowth = performance.now();
    }
  }
  const stoppedAfter = lastGrowth - t0;
  t.diagnostic(
    `delete answered after ${answered.toFixed(0)} ms; bytes stopped ${stoppedAfter.toFixed(0)} ms after the request`,
  );
  t.diagnostic(`steps: ${report.steps.map((s) => `${s.step}=${s.detail}`).join(" | ")}`);
  assert.ok(stoppedAfter < 1000, `download stopped ${stoppedAfter.toFixed(0)} ms after the delete`);
  assert.match(
    report.steps.find((s) => s.step === "live connections")?.detail ?? "",
    /^[1-9]\d* connection/,
    "the access log named its connection and it was cut",
  );
  run.kill("SIGKILL");
  await run.result;

  await assert.rejects(
    curlDownload(payload.bytesUrl(MiB), { socksPort, maxTimeSec: 5 }),
    CurlError,
    "a new connection with the deleted UUID fails",
  );
  const config = readXrayConfig(readFileSync(server.v2ray.configPath, "utf8"));
  assert.ok(
    config.inbounds.every((i) => i.clients.every((c) => c.email !== name)),
    "the config no longer has it",
  );
  for (const other of ["new-vmess", "new-trojan"]) {
    const figures = await curlDownload(payload.bytesUrl(MiB), {
      socksPort: clientPorts.get(other) as number,
    });
    assert.equal(figures.sizeDownload, MiB, `${other} still works`);
  }
  const keepClient = await startV2rayClient(server, keep);
  const figures = await curlDownload(payload.bytesUrl(MiB), { socksPort: keepClient.socksPort });
  assert.equal(figures.sizeDownload, MiB, "the adopted keep-vl still works");
  const deleted = readFileSync(`${worker.dataDir}/deleted.log`, "utf8");
  assert.match(
    deleted,
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| VLESS \| new-vless \| reason: acceptance test; /m,
    "deleted.log line",
  );
});

test("after deleting every added account the commented config is byte-identical to the original", async () => {
  for (const name of ["new-vmess", "new-trojan"]) {
    const result = await worker.cli(["account", "delete", name]);
    assert.equal(result.code, 0, `delete ${name}: ${result.stdout}${result.stderr}`);
  }
  assert.equal(readFileSync(server.v2ray.configPath, "utf8"), original, "round trip");
  const events = await new ControlClient(worker.env["KUOTA_SOCKET"] as string).get<{
    events: { account: string; kind: string }[];
  }>("/v1/events/pending");
  assert.deepEqual(
    events.events.map((e) => `${e.kind} ${e.account}`).sort(),
    ["deleted new-trojan", "deleted new-vless", "deleted new-vmess"],
    "one pending event per deletion",
  );
});

test("refusals change nothing: root, nobody, bad names, a login user, an unknown name, shadowsocks on V2Ray 4", async () => {
  const login = await createTestUser({ shell: "/bin/bash" });
  const passwd = readFileSync("/etc/passwd", "utf8");
  const config = readFileSync(server.v2ray.configPath, "utf8");
  const listAccounts = async () =>
    (
      JSON.parse((await worker.cli(["account", "list", "--json"])).stdout) as {
        accounts: { username: string; protocol: string; limit_bytes: number | null }[];
      }
    ).accounts.map((a) => `${a.username} ${a.protocol} ${a.limit_bytes}`);
  const accounts = await listAccounts();
  const cases: [string[], RegExp][] = [
    [["account", "delete", "root"], /superuser/],
    [["account", "delete", "nobody"], /nobody|system user/],
    [["account", "delete", "a;b"], /not an account name/],
    [["account", "delete", "../etc"], /not an account name/],
    [["account", "delete", "x".repeat(200)], /not an account name/],
    [["account", "delete", login.name], /login shell/],
    [["account", "delete", "no-such-account"], /manages no account/],
    [["account", "add", "vless", "keep-vl"], /exists/],
    [["account", "add", "vless", "root"], /exists/],
    [["account", "add", "shadowsocks", "ss-new"], /one user each/],
  ];
  for (const [args, message] of cases) {
    const result = await worker.cli(args);
    assert.notEqual(result.code, 0, `${args.join(" ")} is refused`);
    assert.match(result.stderr, message, `${args.join(" ")}: ${result.stderr}`);
  }
  assert.equal(readFileSync("/etc/passwd", "utf8"), passwd, "/etc/passwd unchanged");
  assert.equal(readFileSync(server.v2ray.configPath, "utf8"), config, "engine config unchanged");
  assert.deepEqual(await listAccounts(), accounts, "store unchanged");
});
