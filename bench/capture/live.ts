// Live host-capture throughput: the real worker (nft rule → NFLOG → tcpdump → parser → store) in a
// server namespace, a bounded load generator in a client namespace replaying the real Chromium
// ClientHellos of test/fixtures/capture over new TCP connections at fixed rates, then tshark
// reading the same NFLOG rule live for comparison. Needs root, nft, tcpdump, tshark; run after
// `npm run build`.
// Usage: node --import tsx bench/capture/live.ts [seconds-per-rate=10] [rates=2000,5000,8000]
import { execa, type ResultPromise } from "execa";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PcapStream } from "../../src/capture/pcap-stream.js";
import { nflogPayload } from "../../src/capture/nflog.js";
import { decodeTcpPacket } from "../../src/capture/packet.js";
import { captureTableScript } from "../../src/capture/capture-ruleset.js";

const seconds = Number(process.argv[2] ?? 10);
const rates = (process.argv[3] ?? "2000,5000,8000").split(",").map(Number);
const GROUP = 41;
/** Load generator processes; one Node process opens ~4,400 connections/s on the 2-vCPU box. */
const GENERATORS = Number(process.env.GENERATORS ?? 2);
const id = process.pid.toString(36);
const NS = { server: `kqb-${id}-srv`, client: `kqb-${id}-cli` };
const SERVER_IP = "10.203.0.1";
const dir = mkdtempSync(join(tmpdir(), "kuota-bench-"));
const children: ResultPromise[] = [];

function cleanup(): void {
  for (const child of children) child.kill("SIGKILL");
  for (const ns of Object.values(NS)) {
    const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split("\n").filter(Boolean)) spawnSync("kill", ["-9", pid]);
    spawnSync("ip", ["netns", "del", ns]);
  }
  rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

const inNs = (ns: string, cmd: string, args: string[]) =>
  execa("ip", ["netns", "exec", ns, cmd, ...args]);

// The first bytes of each Chromium TLS connection in the fixture (IPv4, port 443).
function chromeHellos(): Buffer[] {
  const file = resolve("test/fixtures/capture/chromium-nflog.pcap");
  const flows = new Map<number, Map<number, Buffer>>();
  for (const record of new PcapStream().feed(readFileSync(file))) {
    const ip = nflogPayload(record.data);
    const seg = ip && decodeTcpPacket(ip);
    if (!seg || seg.family !== 4 || seg.dstPort !== 443 || seg.payload.length === 0) continue;
    const pieces = flows.get(seg.srcPort) ?? new Map<number, Buffer>();
    pieces.set(seg.seq, Buffer.from(seg.payload));
    flows.set(seg.srcPort, pieces);
  }
  return [...flows.values()]
    .map((p) => Buffer.concat([...p.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b)))
    .filter((b) => b[0] === 0x16 && b.length > 1500);
}

const SERVER_JS = `
import { createServer } from "node:net";
createServer((socket) => {
  socket.once("data", () => socket.write("k"));
  socket.resume().on("error", () => {});
}).listen(443, () => console.log("ready"));
`;

// Opens `rate` connections a second (10 ms ticks) for `seconds`, at most 2,000 in flight; each
// sends one ClientHello, waits for the server's byte and resets (no TIME_WAIT).
const CLIENT_JS = `
import { connect } from "node:net";
import { readFileSync } from "node:fs";
const [ip, rate, seconds, hellosFile] = process.argv.slice(2);
const hellos = JSON.parse(readFileSync(hellosFile, "utf8")).map((h) => Buffer.from(h, "base64"));
const MAX_IN_FLIGHT = 2000;
let inFlight = 0, opened = 0, done = 0, failed = 0, skipped = 0;
const end = Date.now() + Number(seconds) * 1000;
const start = Date.now();
let due = 0;
await new Promise((resolveAll) => {
  const timer = setInterval(() => {
    if (Date.now() >= end) { clearInterval(timer); const wait = setInterval(() => { if (inFlight === 0) { clearInterval(wait); resolveAll(); } }, 20); return; }
    let credit = Math.floor(((Date.now() - start) * Number(rate)) / 1000) - due;
    due += credit;
    while (credit >= 1) {
      credit--;
      if (inFlight >= MAX_IN_FLIGHT) { skipped++; continue; }
      inFlight++; opened++;
      const hello = hellos[opened % hellos.length];
      const socket = connect(443, ip, () => socket.write(hello));
      socket.once("data", () => { done++; socket.resetAndDestroy(); });
      socket.on("error", () => { failed++; }).on("close", () => { inFlight--; });
    }
  }, 10);
});
console.log(JSON.stringify({ opened, done, failed, skipped, wallMs: Date.now() - start }));
`;

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function counter(): Promise<number> {
  const { stdout } = await inNs(NS.server, "nft", [
    "-j",
    "list",
    "counters",
    "table",
    "inet",
    "kuota",
  ]);
  const items = (
    JSON.parse(stdout) as { nftables: { counter?: { name: string; packets: number } }[] }
  ).nftables;
  return items.find((i) => i.counter?.name === "capture_seen")?.counter?.packets ?? 0;
}

function getJson<T>(socketPath: string, path: string): Promise<T> {
  return new Promise((ok, fail) => {
    http
      .get({ socketPath, path }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => ok(JSON.parse(body) as T));
      })
      .on("error", fail);
  });
}

type Generated = { opened: number; done: number; failed: number; skipped: number; wallMs: number };

/** Runs GENERATORS client processes at rate/GENERATORS each and adds up their figures. */
async function generate(rate: number): Promise<Generated> {
  const runs = await Promise.all(
    Array.from({ length: GENERATORS }, () =>
      inNs(NS.client, process.execPath, [
        join(dir, "client.mjs"),
        SERVER_IP,
        String(rate / GENERATORS),
        String(seconds),
        join(dir, "hellos.json"),
      ]),
    ),
  );
  const all = runs.map((r) => JSON.parse(r.stdout) as Generated);
  const sum = (k: keyof Generated) => all.reduce((n, f) => n + f[k], 0);
  return {
    opened: sum("opened"),
    done: sum("done"),
    failed: sum("failed"),
    skipped: sum("skipped"),
    wallMs: Math.max(...all.map((f) => f.wallMs)),
  };
}

async function main(): Promise<void> {
  const hellos = chromeHellos();
  writeFileSync(join(dir, "hellos.json"), JSON.stringify(hellos.map((h) => h.toString("base64"))));
  writeFileSync(join(dir, "server.mjs"), SERVER_JS);
  writeFileSync(join(dir, "client.mjs"), CLIENT_JS);
  console.log(
    `${hellos.length} Chromium ClientHellos, ${Math.min(...hellos.map((h) => h.length))}-` +
      `${Math.max(...hellos.map((h) => h.length))} bytes`,
  );

  for (const ns of Object.values(NS)) await execa("ip", ["netns", "add", ns]);
  await execa("ip", [
    "link",
    "add",
    "b0",
    "netns",
    NS.server,
    "type",
    "veth",
    "peer",
    "name",
    "b1",
    "netns",
    NS.client,
  ]);
  for (const [ns, dev, addr] of [
    [NS.server, "b0", `${SERVER_IP}/24`],
    [NS.client, "b1", "10.203.0.2/24"],
  ] as const) {
    await inNs(ns, "ip", ["link", "set", "lo", "up"]);
    await inNs(ns, "ip", ["addr", "add", addr, "dev", dev]);
    await inNs(ns, "ethtool", ["-K", dev, "tso", "off", "gso", "off", "gro", "off"]);
    await inNs(ns, "ip", ["link", "set", dev, "mtu", "1500", "up"]);
  }
  await inNs(NS.client, "sysctl", ["-q", "net.ipv4.ip_local_port_range=1024 65000"]);
  await inNs(NS.server, "sysctl", [
    "-q",
    "net.core.somaxconn=4096",
    "net.ipv4.tcp_max_syn_backlog=8192",
  ]);
  const server = execa(
    "ip",
    ["netns", "exec", NS.server, process.execPath, join(dir, "server.mjs")],
    { reject: false },
  );
  children.push(server);

  // The worker, as in production but in the server namespace.
  const env = {
    ...process.env,
    KUOTA_ENV_FILE: join(dir, "kuota.env"),
    KUOTA_DB: join(dir, "kuota.db"),
    KUOTA_DATA_DIR: join(dir, "myvpn"),
    KUOTA_SOCKET: join(dir, "kuota.sock"),
    KUOTA_SOCKET_GROUP: "",
    KUOTA_PASSWD_FILE: join(dir, "passwd"),
    XRAY_CONFIG: join(dir, "none.json"),
    XRAY_ACCESS_LOG: join(dir, "access.log"),
    KUOTA_LOG_LEVEL: "info",
    CAPTURE_PORTS: "443",
  };
  writeFileSync(env.KUOTA_ENV_FILE, "");
  writeFileSync(env.KUOTA_PASSWD_FILE, "");
  const worker = execa(
    "ip",
    ["netns", "exec", NS.server, process.execPath, resolve("dist/src/cli/main.js"), "worker"],
    { env, reject: false, buffer: false },
  );
  children.push(worker);
  let log = "";
  worker.stdout?.on("data", (b: Buffer) => (log += b.toString()));
  while (!/"worker started"/.test(log)) {
    if (worker.exitCode !== null) throw new Error(log);
    await sleep(100);
  }
  const workerPid = worker.pid as number;
  const tcpdumpPid = Number(
    spawnSync("pgrep", ["-P", String(workerPid), "tcpdump"], { encoding: "utf8" }).stdout.trim(),
  );
  console.log(`worker ${workerPid}, tcpdump ${tcpdumpPid}`);

  console.log(
    "| offered (achieved) conns/s | opened | answered | generator skipped | rule counter | records | lost | hosts counted | worker CPU ms / 1k conns | tcpdump CPU ms / 1k conns |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const rate of rates) {
    const c0 = await counter();
    const s0 = (await getJson<{ capture: { records: number } }>(env.KUOTA_SOCKET, "/v1/status"))
      .capture;
    const h0 = (
      await getJson<{ hosts: { count: number }[] }>(env.KUOTA_SOCKET, "/v1/hosts?limit=10000")
    ).hosts.reduce((n, h) => n + h.count, 0);
    const w0 = cpuMs(workerPid);
    const t0 = cpuMs(tcpdumpPid);
    const figures = await generate(rate);
    await sleep(2_500);

    const counted = (await counter()) - c0;
    const s1 = (
      await getJson<{ capture: { records: number; lost: number } }>(env.KUOTA_SOCKET, "/v1/status")
    ).capture;
    const h1 = (
      await getJson<{ hosts: { count: number }[] }>(env.KUOTA_SOCKET, "/v1/hosts?limit=10000")
    ).hosts.reduce((n, h) => n + h.count, 0);
    const records = s1.records - s0.records;
    const perK = (ms: number) => ((ms / figures.opened) * 1000).toFixed(0);
    console.log(
      `| ${rate} (${Math.round((figures.opened / figures.wallMs) * 1000)}) | ${figures.opened} | ${figures.done} | ${figures.skipped} | ${counted} | ${records} | ${counted - records} | ${h1 - h0} | ${perK(cpuMs(workerPid) - w0)} | ${perK(cpuMs(tcpdumpPid) - t0)} |`,
    );
  }
  worker.kill("SIGTERM");
  await worker;

  // tshark on the same rule and group, live, at the last rate.
  const script = captureTableScript([443], GROUP);
  await execa("ip", ["netns", "exec", NS.server, "nft", "-f", "-"], { input: script });
  const tshark = execa(
    "ip",
    [
      "netns",
      "exec",
      NS.server,
      "tshark",
      "-i",
      `nflog:${GROUP}`,
      "-l",
      "-Q",
      "-T",
      "fields",
      "-e",
      "tls.handshake.extensions_server_name",
      "-Y",
      "tls.handshake.extensions_server_name",
    ],
    { reject: false, buffer: false },
  );
  children.push(tshark);
  let lines = 0;
  tshark.stdout?.on("data", (b: Buffer) => (lines += b.toString().split("\n").length - 1));
  await sleep(3_000);
  const pids = spawnSync("ip", ["netns", "pids", NS.server], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean)
    .map(Number);
  const tsharkPids = pids.filter((p) =>
    /tshark|dumpcap/.test(readFileSync(`/proc/${p}/comm`, "utf8")),
  );
  const cpu0 = tsharkPids.reduce((n, p) => n + cpuMs(p), 0);
  const c0 = await counter();
  const rate = rates[rates.length - 1] as number;
  const figures = await generate(rate);
  await sleep(3_000);
  const cpu1 = tsharkPids.reduce((n, p) => n + cpuMs(p), 0);
  const rss = tsharkPids
    .map((p) => /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1])
    .join("+");
  console.log(
    `tshark live at ${rate}/s: ${figures.opened} connections, rule counted ${(await counter()) - c0}, ` +
      `SNIs printed ${lines}, CPU ${(((cpu1 - cpu0) / figures.opened) * 1000).toFixed(0)} ms / 1k conns (tshark+dumpcap), peak RSS ${rss} kB`,
  );
  tshark.kill("SIGINT");
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
