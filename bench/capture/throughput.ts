// Offline parse throughput of the capture pipeline on replayed real Chrome ClientHellos.
// Builds an NFLOG pcap of N connections by cloning the Chromium fixture's IPv4 client flows
// with fresh source addresses and ports, 100 connections interleaved at a time, then times
// CaptureParser on it (and tshark on the same file when installed).
// Usage: node --import tsx bench/capture/throughput.ts [connections=50000] [rate-per-s=5000]
import { readFileSync, writeFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { PcapStream } from "../../src/capture/pcap-stream.js";
import { nflogPayload } from "../../src/capture/nflog.js";
import { decodeTcpPacket } from "../../src/capture/packet.js";
import { CaptureParser } from "../../src/capture/sightings.js";

const connections = Number(process.argv[2] ?? 50_000);
const ratePerSecond = Number(process.argv[3] ?? 5_000);
const INTERLEAVE = 100;
const fixture = readFileSync(
  new URL("../../test/fixtures/capture/chromium-nflog.pcap", import.meta.url),
);

// Client flows of the fixture (IPv4 only), as lists of NFLOG records.
const flows = new Map<string, Uint8Array[]>();
for (const record of new PcapStream().feed(fixture)) {
  const ip = nflogPayload(record.data);
  const segment = ip && decodeTcpPacket(ip);
  if (!segment || segment.family !== 4) continue;
  const key = `${segment.srcPort}`;
  flows.set(key, [...(flows.get(key) ?? []), Uint8Array.from(record.data)]);
}
const templates = [...flows.values()];

/** A copy of an NFLOG record with the client address 10.x.y.z and port changed. */
function retarget(record: Uint8Array, connection: number): Uint8Array {
  const copy = Uint8Array.from(record);
  const ip = nflogPayload(copy)!;
  const ipHeader = (ip[0]! & 0x0f) * 4;
  const host = 1 + Math.floor(connection / 60_000);
  const port = 1024 + (connection % 60_000);
  ip.set([10, 200, host >> 8, host & 0xff], 12);
  ip.set([port >> 8, port & 0xff], ipHeader);
  return copy;
}

// Build the replay: groups of INTERLEAVE connections whose packets alternate.
const parts: Uint8Array[] = [fixture.subarray(0, 24)];
let packetCount = 0;
for (let group = 0; group < connections; group += INTERLEAVE) {
  const members = Array.from(
    { length: Math.min(INTERLEAVE, connections - group) },
    (_, i) => group + i,
  );
  const depth = Math.max(...members.map((c) => templates[c % templates.length]!.length));
  for (let step = 0; step < depth; step++) {
    for (const connection of members) {
      const record = templates[connection % templates.length]![step];
      if (record === undefined) continue;
      const tsMs = 1_700_000_000_000 + (connection / ratePerSecond) * 1000 + step;
      const header = new DataView(new ArrayBuffer(16));
      header.setUint32(0, Math.floor(tsMs / 1000), true);
      header.setUint32(4, Math.floor((tsMs % 1000) * 1000), true);
      header.setUint32(8, record.length, true);
      header.setUint32(12, record.length, true);
      parts.push(new Uint8Array(header.buffer), retarget(record, connection));
      packetCount++;
    }
  }
}
const replay = Buffer.concat(parts);
console.log(
  `replay: ${connections} connections (${templates.length} Chrome/Node/HTTP templates), ` +
    `${packetCount} records, ${(replay.length / 1e6).toFixed(1)} MB`,
);

// kuota's parser, fed 64 KiB chunks like a pipe from tcpdump.
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const parser = new CaptureParser();
const cpuBefore = process.cpuUsage();
const start = process.hrtime.bigint();
let sightings = 0;
let peakHeap = 0;
for (let at = 0; at < replay.length; at += 65_536) {
  sightings += parser.feed(replay.subarray(at, at + 65_536)).length;
  if ((at / 65_536) % 64 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(
  `kuota: ${sightings} sightings in ${seconds.toFixed(2)} s = ${Math.round(connections / seconds)} conns/s, ` +
    `CPU ${((cpuMs / connections) * 1000).toFixed(0)} ms per 1,000 conns, ` +
    `heap growth peak ${((peakHeap - heapBefore) / 1e6).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
);
console.log(`kuota stats: ${JSON.stringify(parser.stats)} load: ${JSON.stringify(parser.load)}`);

// tshark on the same file, with its default TCP desegmentation.
const tshark = spawnSync("sh", ["-c", "command -v tshark"], { encoding: "utf8" }).stdout.trim();
if (tshark === "") {
  console.log("tshark: not installed, skipped");
} else {
  const dir = mkdtempSync(join(tmpdir(), "kuota-bench-"));
  const file = join(dir, "replay.pcap");
  writeFileSync(file, replay);
  const run = spawnSync(
    "/usr/bin/time",
    [
      "-f",
      "%e %U %S %M",
      tshark,
      "-r",
      file,
      "-Y",
      "tls.handshake.extensions_server_name || http.host",
      "-T",
      "fields",
      "-e",
      "tls.handshake.extensions_server_name",
      "-e",
      "http.host",
    ],
    { encoding: "utf8", maxBuffer: 1 << 28 },
  );
  rmSync(dir, { recursive: true });
  const [elapsed, user, system, maxKb] = run.stderr
    .trim()
    .split("\n")
    .at(-1)!
    .split(" ")
    .map(Number);
  const found = run.stdout.split("\n").filter((line) => line.trim() !== "").length;
  console.log(
    `tshark: ${found} hosts in ${elapsed!.toFixed(2)} s = ${Math.round(connections / elapsed!)} conns/s, ` +
      `CPU ${(((user! + system!) * 1e6) / connections).toFixed(0)} ms per 1,000 conns, max rss ${Math.round(maxKb! / 1000)} MB`,
  );
}
