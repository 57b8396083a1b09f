/**
 * Issue 2's acceptance against Debian's real v2ray 4.34: server and client
 * processes, curl through the client, the real worker counting into the store.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import {
  buildClientConfig,
  buildServerConfig,
  endpointFor,
  makeAccount,
  startV2ray,
  type RigAccount,
  type ServerOptions,
  type V2rayProcess,
} from "../rig/v2ray.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import { curlDownload, curlUpload, startCurlDownload, type CurlFigures } from "../rig/curl.js";
import { freePort } from "../rig/ports.js";
import { makeSelfSignedCert } from "../rig/tls-cert.js";
import { WorkerSandbox } from "../rig/worker.js";

const MiB = 1024 * 1024;
const POLL_MS = 200;

const accounts = {
  vmess: makeAccount("vmess", "vm-user"),
  vless: makeAccount("vless", "vl-user"),
  trojan: makeAccount("trojan", "tr-user"),
  shadowsocks: makeAccount("shadowsocks", "ss-user"),
  second: makeAccount("vless", "vl-second"),
};

let server: V2rayProcess;
let serverOptions: ServerOptions;
let payload: PayloadServer;
let worker: WorkerSandbox;
const socks = new Map<string, number>();

/** What the worker should have counted for each account, from curl's own figures. */
const expected = new Map<string, { up: number; down: number }>();

function credit(email: string, f: Pick<CurlFigures, "uplinkBytes" | "downlinkBytes">): void {
  const e = expected.get(email) ?? { up: 0, down: 0 };
  e.up += f.uplinkBytes;
  e.down += f.downlinkBytes;
  expected.set(email, e);
}

/** Waits until the usage file shows exactly the expected figures (or times out and shows both). */
async function expectUsage(email: string, timeoutMs = 8000): Promise<void> {
  const want = expected.get(email) ?? { up: 0, down: 0 };
  const deadline = Date.now() + timeoutMs;
  let seen: { up: number; down: number } | null = null;
  while (Date.now() < deadline) {
    try {
      const doc = worker.readUsage(email);
      seen = { up: doc.total_usage.upload_bytes, down: doc.total_usage.download_bytes };
      assert.equal(doc.total_usage.total_bytes, seen.up + seen.down);
      if (seen.up === want.up && seen.down === want.down) return;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
    }
    await sleep(100);
  }
  assert.deepEqual(seen, want, `usage of ${email}`);
}

before(async () => {
  const cert = await makeSelfSignedCert();
  const all: RigAccount[] = Object.values(accounts);
  serverOptions = {
    apiPort: await freePort(),
    accounts: all,
    ports: {
      vmess: await freePort(),
      vless: await freePort(),
      trojan: await freePort(),
      shadowsocks: { [accounts.shadowsocks.email]: await freePort() },
    },
    tls: cert,
  };
  // Written with // and # comment lines, as autoscripts' configs are.
  server = await startV2ray(buildServerConfig(serverOptions), {
    name: "server",
    format: "commented",
  });
  payload = await startPayloadServer();
  for (const account of all) {
    const socksPort = await freePort();
    const endpoint = endpointFor(serverOptions, account);
    await startV2ray(buildClientConfig({ socksPort, endpoint, account }), {
      name: `client-${account.email}`,
    });
    socks.set(account.email, socksPort);
  }
  worker = new WorkerSandbox({
    XRAY_API: `127.0.0.1:${serverOptions.apiPort}`,
    XRAY_CONFIG: server.configPath,
    KUOTA_POLL_MS: String(POLL_MS),
  });
  await worker.start();
  await worker.waitForLog(
    /"engine connected".*"flavor":"v2ray"|"flavor":"v2ray".*"engine connected"/,
  );
});

const socksOf = (email: string) => ({ socksPort: socks.get(email) as number });

for (const protocol of ["vmess", "vless", "trojan", "shadowsocks"] as const) {
  test(`counts a 10 MiB download and a 5 MiB upload through ${protocol} to the byte`, async () => {
    const { email } = accounts[protocol];
    credit(email, await curlDownload(payload.bytesUrl(10 * MiB), socksOf(email)));
    credit(email, await curlUpload(payload.sinkUrl(), { bytes: 5 * MiB }, socksOf(email)));
    const want = expected.get(email);
    assert.ok(want && want.down > 10 * MiB && want.up > 5 * MiB);
    await expectUsage(email);
  });
}

test("adopts every client email of the commented config, with no limit", async () => {
  const { stdout, code } = await worker.cli(["account", "list", "--json"]);
  assert.equal(code, 0);
  const list = JSON.parse(stdout).accounts as {
    username: string;
    protocol: string;
    limit_bytes: null;
  }[];
  for (const a of Object.values(accounts)) {
    const found = list.find((x) => x.username === a.email);
    assert.equal(found?.protocol, a.protocol, a.email);
    assert.equal(found?.limit_bytes, null);
  }
});

test("two accounts transferring at once never mix", async () => {
  const [a, b] = await Promise.all([
    curlDownload(payload.bytesUrl(3 * MiB), socksOf(accounts.vless.email)),
    curlDownload(payload.bytesUrl(7 * MiB), socksOf(accounts.second.email)),
  ]);
  credit(accounts.vless.email, a);
  credit(accounts.second.email, b);
  await expectUsage(accounts.vless.email);
  await expectUsage(accounts.second.email);
});

test("kill -9 of the worker in the middle of a transfer loses and doubles nothing", async () => {
  const email = accounts.vmess.email;
  const run = startCurlDownload(payload.bytesUrl(24 * MiB, { rate: 8 * MiB }), socksOf(email));
  await sleep(1200);
  await worker.kill9();
  await sleep(500);
  await worker.start();
  const result = await run.result;
  assert.ok(result.figures && result.exitCode === 0, result.stderr);
  credit(email, result.figures);
  await expectUsage(email);
});

test("the store serves `kuota usage --json` while the worker writes", async () => {
  const email = accounts.trojan.email;
  const run = startCurlDownload(payload.bytesUrl(16 * MiB, { rate: 8 * MiB }), socksOf(email));
  let reads = 0;
  while (
    (await Promise.race([run.result.then(() => true), sleep(1).then(() => false)])) === false
  ) {
    const r = await worker.cli(["usage", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Array.isArray(JSON.parse(r.stdout).accounts));
    reads++;
  }
  assert.ok(reads >= 3, `only ${reads} reads happened during the transfer`);
  const result = await run.result;
  assert.ok(result.figures);
  credit(email, result.figures);
  await expectUsage(email);
});

test("a v2ray restart mid-transfer counts no byte twice; loss is at most one poll", async (t) => {
  const email = accounts.second.email;
  const before = expected.get(email) ?? { up: 0, down: 0 };
  const rate = 4 * MiB;
  const sentBefore = payload.bytesSent();
  const run = startCurlDownload(payload.bytesUrl(64 * MiB, { rate }), socksOf(email));
  await sleep(2000);
  await server.restart();
  const result = await run.result; // the restart breaks the connection
  await worker.waitForLog(/engine restarted/);
  await sleep(POLL_MS * 5 + 1200);
  const sent = payload.bytesSent() - sentBefore;
  const received = result.figures?.downlinkBytes ?? 0;
  const doc = worker.readUsage(email);
  const counted = doc.total_usage.download_bytes - before.down;
  const lost = received - counted;
  t.diagnostic(
    `restart: server sent ${sent} B, curl received ${received} B, counted ${counted} B; ` +
      `received - counted = ${lost} B (${((lost / rate) * 1000).toFixed(0)} ms at ${rate} B/s; ` +
      `poll ${POLL_MS} ms)`,
  );
  assert.ok(result.figures !== undefined, "curl reported its figures");
  // The engine cannot have read more than the server sent: anything above is a double count.
  assert.ok(counted <= sent, `counted ${counted} B > sent ${sent} B`);
  // Loss: what the engine counted after the last poll before it stopped, plus the stop itself.
  assert.ok(lost <= rate * ((POLL_MS + 1000) / 1000), `lost ${lost} B`);
  // The account keeps counting after the restart, to the byte.
  expected.set(email, { up: doc.total_usage.upload_bytes, down: doc.total_usage.download_bytes });
  credit(email, await curlDownload(payload.bytesUrl(2 * MiB), socksOf(email)));
  await expectUsage(email);
});

test("with the worker down, `kuota usage` says so in one line and exits non-zero", async () => {
  assert.equal(await worker.stop(), 0, "SIGTERM stops the worker with exit 0");
  const r = await worker.cli(["usage"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /worker is not running/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  // Totals survive the stop: the usage file still has everything.
  await expectUsage(accounts.vless.email, 100);
});
