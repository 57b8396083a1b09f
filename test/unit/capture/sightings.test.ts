import { test } from "node:test";
import assert from "node:assert/strict";
import { CaptureParser, type Sighting } from "../../../src/capture/sightings.js";
import { LINKTYPE } from "../../../src/capture/link-layer.js";
import {
  ascii,
  clientHello,
  cut,
  ethernetFrame,
  ipPacket,
  nflogRecord,
  pcapFile,
} from "./build.js";

const ISN = 1_000_000;

interface Connection {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  /** Client payload, cut into segments at these offsets. */
  payload: Uint8Array;
  cuts: number[];
  /** Order in which the segments are sent (indexes into the cuts); repeats are retransmissions. */
  order?: number[];
}

/** The client→server packets of a connection: SYN, ACK, then the payload segments. */
function packets(connection: Connection): Uint8Array[] {
  const { payload, cuts, order, ...endpoints } = connection;
  const pieces = cut(payload, ...cuts);
  const offsets = [0, ...cuts];
  const out = [
    ipPacket({ ...endpoints, seq: ISN, flags: "S" }),
    ipPacket({ ...endpoints, seq: ISN + 1, flags: "A" }),
  ];
  for (const i of order ?? pieces.map((_, i) => i)) {
    out.push(
      ipPacket({ ...endpoints, seq: ISN + 1 + offsets[i]!, flags: "PA", payload: pieces[i]! }),
    );
  }
  return out;
}

function run(frames: Uint8Array[], linkType: number = LINKTYPE.NFLOG): Sighting[] {
  const wrap = linkType === LINKTYPE.NFLOG ? nflogRecord : ethernetFrame;
  const parser = new CaptureParser();
  return parser.feed(pcapFile(frames.map(wrap), { linkType }));
}

const hello = clientHello({ host: "split.example", paddingBefore: 1500, paddingAfter: 400 });
const sniAt = Buffer.from(hello).indexOf("split.example");

test("reads an SNI inside the first segment", () => {
  const small = clientHello({ host: "first.example", paddingAfter: 1500 });
  const [sighting] = run(packets({ payload: small, cuts: [1448] }));
  assert.deepEqual(sighting, {
    host: "first.example",
    kind: "sni",
    sourceIp: "10.0.0.2",
    sourcePort: 40000,
    destIp: "10.0.0.1",
    destPort: 443,
    tsMs: 1_700_000_000_000,
  });
});

test("reads an SNI that sits entirely in the second segment", () => {
  assert.ok(sniAt > 1448);
  const sightings = run(packets({ payload: hello, cuts: [1448] }));
  assert.deepEqual(
    sightings.map((s) => s.host),
    ["split.example"],
  );
});

test("reads an SNI that straddles the segment boundary", () => {
  const sightings = run(packets({ payload: hello, cuts: [sniAt + 5] }));
  assert.deepEqual(
    sightings.map((s) => s.host),
    ["split.example"],
  );
});

test("reads an SNI from segments that arrive out of order", () => {
  const sightings = run(packets({ payload: hello, cuts: [700, 1448, 1800], order: [3, 1, 2, 0] }));
  assert.deepEqual(
    sightings.map((s) => s.host),
    ["split.example"],
  );
});

test("reads an SNI once despite retransmitted segments", () => {
  const sightings = run(packets({ payload: hello, cuts: [1448], order: [0, 0, 1, 1, 0] }));
  assert.deepEqual(
    sightings.map((s) => s.host),
    ["split.example"],
  );
});

test("reads an SNI over IPv6 from Ethernet frames", () => {
  const v6 = { src: "2001:db8::2", dst: "2001:db8::1", srcPort: 50001 };
  const sightings = run(packets({ ...v6, payload: hello, cuts: [1428] }), LINKTYPE.ETHERNET);
  assert.deepEqual(
    sightings.map((s) => [s.host, s.sourceIp, s.sourcePort]),
    [["split.example", "2001:db8::2", 50001]],
  );
});

test("reads the Host of a padded WebSocket upgrade from the second segment", () => {
  const request = ascii(
    `GET /vless HTTP/1.1\r\nX-Padding: ${"p".repeat(1600)}\r\nHost: WS.example\r\n` +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  );
  const sightings = run(packets({ payload: request, dstPort: 80, cuts: [1448] }));
  assert.deepEqual(
    sightings.map((s) => [s.kind, s.host, s.path, s.destPort]),
    [["http", "ws.example", "/vless", 80]],
  );
});

test("reads X-Forwarded-Host beside Host", () => {
  const request = ascii(
    "GET /s HTTP/1.1\r\nHost: origin.example\r\nX-Forwarded-Host: cdn.example\r\n\r\n",
  );
  const [sighting] = run(packets({ payload: request, dstPort: 8080, cuts: [] }));
  assert.equal(sighting?.host, "origin.example");
  assert.equal(sighting?.forwardedHost, "cdn.example");
});

test("reports every connection, not only new hosts, and counts what it saw", () => {
  const frames = [1, 2, 3].flatMap((n) =>
    packets({ srcPort: 40000 + n, payload: hello, cuts: [1448] }),
  );
  const ssh = packets({
    srcPort: 40009,
    dstPort: 22,
    payload: ascii("SSH-2.0-OpenSSH_9.2\r\n"),
    cuts: [],
  });
  const parser = new CaptureParser();
  const sightings = parser.feed(
    pcapFile([...frames, ...ssh].map(nflogRecord), { linkType: LINKTYPE.NFLOG }),
  );
  assert.equal(sightings.length, 3);
  assert.deepEqual(parser.stats, {
    records: frames.length + ssh.length,
    undecodable: 0,
    sightings: 3,
    unrecognized: 1,
    abandoned: 0,
    streamError: undefined,
  });
  assert.equal(parser.load.bufferedBytes, 0);
});
