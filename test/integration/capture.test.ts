/**
 * Issue 6's acceptance: the real worker inside the server namespace of a client ⇄ server rig (veth
 * at MTU 1500, offloads off, so ClientHellos split as on the internet), real Chromium, real nft and
 * tcpdump, and a real v2ray 4.34 VLESS server whose access log the worker follows.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ResultPromise } from "execa";
import { createNetRig, type NetRig } from "../rig/netns.js";
import { WorkerSandbox } from "../rig/worker.js";
import { makeSelfSignedCert } from "../rig/tls-cert.js";
import { freePort } from "../rig/ports.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import { curlDownload } from "../rig/curl.js";
import {
  buildClientConfig,
  buildServerConfig,
  endpointFor,
  makeAccount,
  startV2ray,
  type ServerOptions,
  type V2rayProcess,
} from "../rig/v2ray.js";
import { PcapStream } from "../../src/capture/pcap-stream.js";
import { networkPacket } from "../../src/capture/link-layer.js";
import { decodeTcpPacket } from "../../src/capture/packet.js";
import type { HostView, StatusView } from "../../src/control/api.js";

const NAMES = Array.from({ length: 34 }, (_, i) => `n${String(i).padStart(2, "0")}.cap.test`);
const UPLOAD_BYTES = 50 * 1024 * 1024;
/** The kernel flushes NFLOG about once a second; the recorder writes every 200 ms. */
const SETTLE_MS = 2_500;

const vless = makeAccount("vless", "vl-cap");

let rig: NetRig;
let worker: WorkerSandbox;
let v2ray: V2rayProcess;
let v2rayClient: V2rayProcess;
let payload: PayloadServer;
let clientSocks: number;
let serverScripts: ResultPromise;

const SERVER_JS = `
import { createServer as createHttps } from "node:https";
import { createServer as createHttp } from "node:http";
import { createServer as createTcp } from "node:net";
import { readFileSync } from "node:fs";
const [certFile, keyFile, namesJson] = process.argv.slice(2);
const names = JSON.parse(namesJson);
const page = "<!doctype html><title>kuota</title>" +
  names.slice(1).map((n) => '<img src="https://' + n + '/p.gif">').join("");
const gif = Buffer.from("R0lGODlhAQABAAAAACw=", "base64");
const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
createHttps(tls, (req, res) => {
  if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(page);
  else res.writeHead(200, { "content-type": "image/gif", "cache-control": "no-store" }).end(gif);
}).listen(443);
createHttp((req, res) => { req.resume(); res.writeHead(204).end(); }).listen(80);
createTcp((socket) => socket.resume().on("error", () => {})).listen(8080);
console.log("ready");
`;

const CLIENT_JS = `
import { connect } from "node:net";
const [mode, ip, arg] = process.argv.slice(2);
function exchange(port, chunks, gapMs = 0) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, ip, async () => {
      for (const chunk of chunks) {
        if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
      socket.end();
    });
    socket.on("error", reject).on("close", resolve).resume();
  });
}
if (mode === "ws") {
  await exchange(80, ["GET /vless HTTP/1.1\\r\\nX-Padding: " + "p".repeat(1600) +
    "\\r\\nHost: ws.cap.test\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n" +
    "Sec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n"]);
  await exchange(80, ["GET /status HTTP/1.1\\r\\nHost: origin.cap.test\\r\\n" +
    "X-Forwarded-Host: cdn.cap.test\\r\\n\\r\\n"]);
} else if (mode === "same") {
  const spellings = ["same.cap.test", "SAME.CAP.TEST", "Same.Cap.Test.", "same.cap.TEST."];
  for (let i = 0; i < Number(arg); i++) {
    await exchange(80, ["GET / HTTP/1.1\\r\\nHost: " + spellings[i % 4] + "\\r\\n\\r\\n"]);
  }
} else if (mode === "upload") {
  const block = Buffer.alloc(1024 * 1024, 7);
  const chunks = ["POST /up HTTP/1.1\\r\\nHost: upload.cap.test\\r\\n\\r\\n"];
  for (let i = 0; i < Number(arg) / block.length; i++) chunks.push(block);
  await exchange(8080, chunks);
}
`;

async function hosts(query: string): Promise<HostView[]> {
  const { code, stdout, stderr } = await worker.cli(["hosts", "--json", ...query.split(" ")]);
  assert.equal(code, 0, `kuota hosts failed: ${stderr}`);
  return (JSON.parse(stdout) as { hosts: HostView[] }).hosts;
}

async function captureStatus(): Promise<NonNullable<StatusView["capture"]>> {
  const { default: http } = await import("node:http");
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ socketPath: worker.env.KUOTA_SOCKET, path: "/v1/status" }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(text));
      })
      .on("error", reject);
  });
  const capture = (JSON.parse(body) as StatusView).capture;
  assert.ok(capture, "GET /v1/status has a capture section");
  return capture;
}

async function captureCounter(): Promise<number> {
  const { stdout } = await rig.exec("server", "nft", [
    "-j",
    "list",
    "counters",
    "table",
    "inet",
    "kuota",
  ]);
  const listing = JSON.parse(String(stdout)) as {
    nftables: { counter?: { name: string; packets: number } }[];
  };
  const counter = listing.nftables.find((i) => i.counter?.name === "capture_seen")?.counter;
  assert.ok(counter, "the capture_seen counter exists");
  return counter.packets;
}

before(async () => {
  rig = await createNetRig();
  const cert = await makeSelfSignedCert("cap.test");
  writeFileSync(join(rig.dir, "server.mjs"), SERVER_JS);
  writeFileSync(join(rig.dir, "client.mjs"), CLIENT_JS);
  serverScripts = rig.spawn("server", process.execPath, [
    join(rig.dir, "server.mjs"),
    cert.certFile,
    cert.keyFile,
    JSON.stringify(NAMES),
  ]);

  // v2ray server on the host's loopback; its freedom outbound resolves dest.cap.test itself.
  const serverOptions: ServerOptions = {
    apiPort: await freePort(),
    accounts: [vless],
    ports: { vless: await freePort() },
  };
  const config = buildServerConfig(serverOptions);
  config.dns = { hosts: { "dest.cap.test": "127.0.0.1" } };
  config.outbounds = [
    { protocol: "freedom", tag: "direct", settings: { domainStrategy: "UseIP" } },
  ];
  v2ray = await startV2ray(config, { name: "capture-server" });
  payload = await startPayloadServer();
  clientSocks = await freePort();
  const endpoint = endpointFor(serverOptions, vless);
  v2rayClient = await startV2ray(
    buildClientConfig({ socksPort: clientSocks, endpoint, account: vless }),
    { name: "capture-client" },
  );

  worker = new WorkerSandbox({
    CAPTURE_ENABLED: "true",
    XRAY_CONFIG: v2ray.configPath,
    XRAY_ACCESS_LOG: v2ray.accessLog,
    CAPTURE_SERVICE_MAP: "8080=UPLOADS",
  });
  await worker.start({}, { netns: rig.ns.server });
  await worker.waitForLog(/capturing SNI and HTTP hosts/);
});

test("records the SNI of every Chromium connection, split ClientHellos included", async (t) => {
  const wire = join(rig.dir, "wire.pcap");
  const sniffer = rig.spawn("server", "tcpdump", [
    "-i",
    "s0",
    "-U",
    "-s",
    "4096",
    "-w",
    wire,
    "tcp dst port 443",
  ]);
  await sleep(1_000);
  // What Chromium sent is the stimulus, read from the wire: the assertion below is on what kuota
  // recorded of it. Chromium is run again (fresh profile, at most 3 runs) only if the wire shows
  // it left names out, so a Chromium hiccup is neither read as loss nor hides one.
  for (let run = 1; ; run++) {
    await rig.exec("client", "timeout", [
      "60",
      "chromium",
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-features=HttpsUpgrades",
      `--user-data-dir=${mkdtempSync(join(rig.dir, "chromium-"))}`,
      "--ignore-certificate-errors",
      `--host-resolver-rules=MAP * ${rig.addr.serverForClient}`,
      "--virtual-time-budget=10000",
      "--dump-dom",
      `https://${NAMES[0]}/`,
    ]);
    await sleep(500);
    const sent = namesOutsideFirstSegment(readFileSync(wire), NAMES).names.size;
    if (sent === NAMES.length || run === 3) break;
    t.diagnostic(`Chromium run ${run} sent ${sent} of ${NAMES.length} names; again`);
  }
  await sleep(SETTLE_MS);
  sniffer.kill("SIGINT");
  await sniffer;
  const split = namesOutsideFirstSegment(readFileSync(wire), NAMES);
  t.diagnostic(
    `${NAMES.length} names; SNI outside the first segment in ${split.outside} of ${split.seen} connections`,
  );
  const unsent = NAMES.filter((n) => !split.names.has(n));
  assert.deepEqual(unsent, [], `Chromium sent a ClientHello for every name (${split.seen} seen)`);
  assert.ok(
    split.outside > 0,
    `some ClientHellos had the SNI past the first segment (${split.outside})`,
  );

  // Recorded within the settle time on a quiet machine; a loaded one may take longer, so wait
  // (bounded) before calling a name lost, and say what the pipeline counted if it is.
  let missing: string[] = NAMES;
  for (const deadline = Date.now() + 15_000; ; await sleep(250)) {
    const recorded = new Set((await hosts("--limit 1000 --search cap.test")).map((h) => h.host));
    missing = NAMES.filter((n) => !recorded.has(n));
    if (missing.length === 0 || Date.now() > deadline) break;
  }
  if (missing.length > 0) {
    const status = await captureStatus();
    const warnings = worker.logLines.filter((l) => /"level":(40|50|60)/.test(l)).slice(-10);
    assert.fail(
      `every SNI recorded: missing ${missing.length} of ${NAMES.length} (${missing.join(", ")}); ` +
        `capture status ${JSON.stringify(status)}; rule counter ${await captureCounter()}; ` +
        `worker warnings:\n${warnings.join("\n")}`,
    );
  }
});

test("records a padded WebSocket upgrade and X-Forwarded-Host", async () => {
  await rig.exec("client", process.execPath, [
    join(rig.dir, "client.mjs"),
    "ws",
    rig.addr.serverForClient,
  ]);
  await sleep(SETTLE_MS);
  const found = await hosts("--search cap.test --limit 1000");
  const ws = found.find((h) => h.host === "ws.cap.test");
  assert.ok(ws, "ws.cap.test (Host in the second segment) recorded");
  assert.equal(ws.kind, "http", "the upgrade is an HTTP sighting");
  assert.ok(
    found.some((h) => h.host === "origin.cap.test"),
    "origin.cap.test recorded",
  );
  assert.ok(
    found.some((h) => h.host === "cdn.cap.test"),
    "X-Forwarded-Host cdn.cap.test recorded",
  );
});

test("one hosts.log line and count 100 for 100 connections in mixed case", async () => {
  await rig.exec("client", process.execPath, [
    join(rig.dir, "client.mjs"),
    "same",
    rig.addr.serverForClient,
    "100",
  ]);
  await sleep(SETTLE_MS);
  const log = readFileSync(join(worker.dataDir, "hosts.log"), "utf8");
  const lines = log.split("\n").filter((l) => l.startsWith("same.cap.test|"));
  assert.equal(lines.length, 1, `one hosts.log line for same.cap.test:\n${log}`);
  assert.match(
    lines[0] ?? "",
    /^same\.cap\.test\|80\|10\.200\.\d+\.1\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
  );
  const [same] = await hosts("--search same.cap");
  assert.equal(same?.count, 100, `count of same.cap.test is ${same?.count}`);
});

test("records a VLESS client's destination with its account and service", async (t) => {
  // The download is the stimulus (kuota is not in its path: it follows v2ray's access log). Two
  // runs in 38 here got an empty reply from the v2ray pair; it is tried once more, saying so.
  const url = `http://dest.cap.test:${payload.port}/bytes/1000`;
  const figures = await curlDownload(url, { socksPort: clientSocks }).catch((err: Error) => {
    const tail = (p: V2rayProcess) => p.readLog().trimEnd().split("\n").slice(-8).join("\n");
    t.diagnostic(
      `${err.message}; again. v2ray server log:\n${tail(v2ray)}\nv2ray client log:\n${tail(v2rayClient)}`,
    );
    return curlDownload(url, { socksPort: clientSocks });
  });
  assert.equal(figures.httpCode, 200, "the download through VLESS worked");
  const deadline = Date.now() + 5_000;
  let dest: HostView | undefined;
  while (dest === undefined && Date.now() < deadline) {
    [dest] = await hosts("--search dest.cap.test");
    if (dest === undefined) await sleep(200);
  }
  assert.ok(dest, `dest.cap.test recorded from ${v2ray.accessLog}`);
  assert.equal(dest.kind, "xray", "an access-log sighting");
  assert.equal(dest.account, vless.email, "with the account");
  assert.equal(dest.service, "VLESS", "with the account's service");
});

test("a 50 MB upload on one connection yields only its first few records", async (t) => {
  const counterBefore = await captureCounter();
  const recordsBefore = (await captureStatus()).records;
  await rig.exec("client", process.execPath, [
    join(rig.dir, "client.mjs"),
    "upload",
    rig.addr.serverForClient,
    String(UPLOAD_BYTES),
  ]);
  await sleep(SETTLE_MS);
  const counted = (await captureCounter()) - counterBefore;
  const status = await captureStatus();
  const records = status.records - recordsBefore;
  t.diagnostic(
    `50 MiB upload: rule counted ${counted} packets, worker received ${records} records`,
  );
  assert.ok(counted >= 3 && counted <= 8, `the rule logged ${counted} packets (expected 3-8)`);
  assert.equal(records, counted, "every logged packet reached the worker");
  const [upload] = await hosts("--search upload.cap.test");
  assert.equal(upload?.service, "UPLOADS", "the upload's host recorded with the mapped service");
  assert.equal(status.lost, 0, "nothing lost between the rule and the reader");
  assert.ok(serverScripts.exitCode === null, "the test servers are still up");
});

/**
 * For each name, whether its ClientHello had the SNI wholly inside the first payload segment.
 * `seen` counts connections whose reassembled first bytes contain one of the names.
 */
function namesOutsideFirstSegment(
  pcap: Buffer,
  names: string[],
): { seen: number; outside: number; names: Set<string> } {
  const flows = new Map<string, Buffer[]>();
  for (const record of new PcapStream().feed(pcap)) {
    const ip = networkPacket(record.linkType, record.data);
    const segment = ip && decodeTcpPacket(ip);
    if (!segment || segment.payload.length === 0) continue;
    const key = `${segment.srcIp}:${segment.srcPort}`;
    flows.set(key, [...(flows.get(key) ?? []), Buffer.from(segment.payload)]);
  }
  let seen = 0;
  let outside = 0;
  const found = new Set<string>();
  for (const segments of flows.values()) {
    const whole = Buffer.concat(segments.slice(0, 4)).toString("latin1");
    const name = names.find((n) => whole.includes(n));
    if (name === undefined) continue;
    seen++;
    found.add(name);
    if (!(segments[0] as Buffer).toString("latin1").includes(name)) outside++;
  }
  return { seen, outside, names: found };
}
