import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { OperatorError } from "../../../src/core/errors.js";
import { readPcapFile } from "../../../src/capture/read-pcap-file.js";
import { CaptureParser, type Sighting } from "../../../src/capture/sightings.js";
import { PcapStream } from "../../../src/capture/pcap-stream.js";
import { networkPacket } from "../../../src/capture/link-layer.js";
import { decodeTcpPacket } from "../../../src/capture/packet.js";
import { parseClientHello } from "../../../src/capture/tls-client-hello.js";

// Real Chromium traffic from make-fixtures.sh (MTU 1500 veth, offloads off).
const DIR = new URL("../../fixtures/capture/", import.meta.url);
const expected = JSON.parse(readFileSync(new URL("expected.json", DIR), "utf8")) as {
  sni: string[];
  http: { host: string; path: string; forwardedHost?: string }[];
};

async function read(name: string): Promise<{ sightings: Sighting[]; parser: CaptureParser }> {
  const parser = new CaptureParser();
  const sightings: Sighting[] = [];
  for await (const sighting of readPcapFile(new URL(name, DIR).pathname, parser)) {
    sightings.push(sighting);
  }
  return { sightings, parser };
}

for (const name of ["chromium-nflog.pcap", "chromium-ethernet.pcap"]) {
  test(`finds every SNI and HTTP host the rig asked for in ${name}`, async () => {
    const { sightings, parser } = await read(name);
    const snis = new Set(sightings.filter((s) => s.kind === "sni").map((s) => s.host));
    for (const host of expected.sni) assert.ok(snis.has(host), `missing SNI ${host}`);
    for (const want of expected.http) {
      const found = sightings.find((s) => s.kind === "http" && s.host === want.host);
      assert.equal(found?.path, want.path);
      assert.equal(found?.forwardedHost, want.forwardedHost);
    }
    const stats = parser.stats;
    assert.equal(stats.streamError, undefined);
    assert.equal(stats.abandoned, 0);
    assert.equal(stats.sightings, sightings.length);
  });
}

test("the Chromium fixture holds ClientHellos whose SNI is past the first segment", (t) => {
  // Per client flow: the first payload segment, and the stream in sequence order.
  const flows = new Map<string, { first: Uint8Array; segments: Map<number, Uint8Array> }>();
  const stream = new PcapStream();
  for (const record of stream.feed(readFileSync(new URL("chromium-nflog.pcap", DIR)))) {
    const packet = networkPacket(record.linkType, record.data);
    const segment = packet && decodeTcpPacket(packet);
    if (!segment || segment.payload.length === 0 || segment.dstPort !== 443) continue;
    const key = `${segment.srcIp} ${segment.srcPort}`;
    const flow = flows.get(key) ?? { first: segment.payload, segments: new Map() };
    flow.segments.set(segment.seq, segment.payload);
    flows.set(key, flow);
  }
  let hellos = 0;
  let multiSegment = 0;
  let outsideFirst = 0;
  let straddling = 0;
  for (const flow of flows.values()) {
    const ordered = [...flow.segments.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const whole = Buffer.concat(ordered);
    const result = parseClientHello(whole);
    if (result.kind !== "sni") continue;
    hellos++;
    const helloLength = 5 + whole.readUInt16BE(3);
    if (helloLength > flow.first.length) multiSegment++;
    if (parseClientHello(flow.first).kind === "sni") continue;
    outsideFirst++;
    if (whole.indexOf(result.host) < flow.first.length) straddling++;
  }
  t.diagnostic(
    `${hellos} ClientHellos, ${multiSegment} over 2+ segments, SNI outside the first segment ` +
      `in ${outsideFirst} (${straddling} straddling the boundary)`,
  );
  assert.ok(hellos >= 31);
  assert.ok(outsideFirst > 0, "no split SNI: were offloads left on?");
});

test("readPcapFile names a file that is not a classic pcap as the operator's mistake", async () => {
  const notPcap = new URL("expected.json", DIR).pathname;
  await assert.rejects(
    async () => {
      for await (const sighting of readPcapFile(notPcap)) void sighting;
    },
    (err: unknown) =>
      err instanceof OperatorError &&
      /not a pcap stream/.test(err.message) &&
      /tcpdump -w/.test(err.hint ?? ""),
  );
});
