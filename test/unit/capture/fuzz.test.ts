import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { MAX_RECORD_BYTES, PcapStream } from "../../../src/capture/pcap-stream.js";
import { CaptureParser } from "../../../src/capture/sightings.js";
import { decodeTcpPacket } from "../../../src/capture/packet.js";
import { networkPacket } from "../../../src/capture/link-layer.js";
import { FlowTable } from "../../../src/capture/flows.js";
import { parseClientHello } from "../../../src/capture/tls-client-hello.js";
import { MAX_PATH_LENGTH, parseHttpRequest } from "../../../src/capture/http-request.js";
import { clientHello, ipPacket, pcapFile } from "./build.js";

// Each parser gets at least 100,000 generated inputs: no throw, bounded state, sane output.
const RUNS = 100_000;
const HOST = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const fixture = readFileSync(
  new URL("../../fixtures/capture/chromium-nflog.pcap", import.meta.url),
);

/** The fixture's records, so generators can rebuild short pcaps from real frames. */
const fixtureFrames = ((): Uint8Array[] => {
  const stream = new PcapStream();
  return stream.feed(fixture).map((record) => Uint8Array.from(record.data));
})();

/** Applies byte overwrites at positions scaled into `bytes`. */
function mutate(bytes: Uint8Array, edits: [number, number][]): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (out.length === 0) return out;
  for (const [position, value] of edits)
    out[Math.floor(position * out.length) % out.length] = value;
  return out;
}

const edits = fc.array(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })),
  {
    maxLength: 6,
  },
);

/** Feeds `bytes` to `feed` in chunks whose sizes come from `sizes` (cycled). */
function chunked(bytes: Uint8Array, sizes: number[], feed: (chunk: Uint8Array) => void): void {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes.length === 0 ? bytes.length : sizes[i % sizes.length]!;
    feed(bytes.subarray(at, at + size));
    at += size;
  }
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 8 });

const pcapInput = fc.oneof(
  // Random bytes, with and without a valid file header in front.
  fc.uint8Array({ maxLength: 400 }),
  fc
    .tuple(fc.constantFrom(1, 113, 239, 101, 276, 0), fc.uint8Array({ maxLength: 400 }))
    .map(([linkType, tail]) => Buffer.concat([pcapFile([], { linkType }), tail])),
  // Real NFLOG records from the Chromium fixture, a few at a time, mutated.
  fc
    .tuple(fc.nat(fixtureFrames.length - 1), fc.integer({ min: 1, max: 6 }), edits, fc.boolean())
    .map(([from, count, changes, big]) =>
      mutate(
        pcapFile(fixtureFrames.slice(from, from + count), { linkType: 239, littleEndian: big }),
        changes,
      ),
    ),
);

test("pcap stream and the whole parser survive random and mutated pcap bytes in any chunks", () => {
  fc.assert(
    fc.property(pcapInput, chunkSizes, (bytes, sizes) => {
      const stream = new PcapStream();
      const parser = new CaptureParser({ maxFlows: 8, maxBufferedBytes: 64 * 1024 });
      chunked(bytes, sizes, (chunk) => {
        for (const record of stream.feed(chunk)) assert.ok(record.data.length <= MAX_RECORD_BYTES);
        for (const sighting of parser.feed(chunk)) assert.match(sighting.host, HOST);
        assert.ok(stream.bufferedBytes < 24 + 16 + MAX_RECORD_BYTES);
        assert.ok(parser.load.flows <= 8 && parser.load.bufferedBytes <= 64 * 1024);
      });
    }),
    { numRuns: RUNS },
  );
});

test("the whole Chromium fixture, mutated, never breaks the parser or its bounds", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(fixture.length - 1), fc.nat(255)), { maxLength: 40 }),
      chunkSizes,
      (changes, sizes) => {
        const bytes = Uint8Array.from(fixture);
        for (const [at, value] of changes) bytes[at] = value;
        const parser = new CaptureParser({ maxFlows: 16, maxBufferedBytes: 128 * 1024 });
        chunked(
          bytes,
          sizes.map((size) => size * 64),
          (chunk) => {
            parser.feed(chunk);
            assert.ok(parser.load.flows <= 16 && parser.load.bufferedBytes <= 128 * 1024);
          },
        );
      },
    ),
    { numRuns: 2_000 },
  );
});

const helloSpec = fc.record({
  host: fc.domain(),
  paddingBefore: fc.option(fc.nat(2500), { nil: undefined }),
  paddingAfter: fc.option(fc.nat(500), { nil: undefined }),
  recordSize: fc.integer({ min: 1, max: 3000 }),
});

test("finds the SNI of any generated ClientHello, however its records are cut", () => {
  fc.assert(
    fc.property(helloSpec, fc.nat(), (spec, cutSeed) => {
      const hello = clientHello(spec);
      assert.deepEqual(parseClientHello(hello), { kind: "sni", host: spec.host.toLowerCase() });
      const partial = parseClientHello(hello.subarray(0, cutSeed % hello.length));
      assert.ok(partial.kind === "need-more" || partial.kind === "sni");
    }),
    { numRuns: RUNS },
  );
});

test("the ClientHello parser never throws on random or mutated input", () => {
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(helloSpec, edits, fc.nat()).map(([spec, changes, length]) => {
      const hello = mutate(
        clientHello({ ...spec, paddingBefore: (spec.paddingBefore ?? 0) % 300 }),
        changes,
      );
      return hello.subarray(0, length % (hello.length + 1));
    }),
  );
  fc.assert(
    fc.property(input, (bytes) => {
      const result = parseClientHello(bytes);
      if (result.kind === "sni") assert.ok(HOST.test(result.host) && result.host.length <= 253);
    }),
    { numRuns: RUNS },
  );
});

const httpToken = fc.oneof(
  fc.constantFrom(
    "GET ",
    "POST ",
    "CONNECT ",
    "/",
    " HTTP/1.1",
    " HTTP/1.0",
    "\r\n",
    "\n",
    "\r\n\r\n",
  ),
  fc.constantFrom(
    "Host: ",
    "host:",
    "X-Forwarded-Host: ",
    "X-Real-Host:",
    ":",
    ",",
    "[",
    "]",
    ".",
    " ",
  ),
  fc.constantFrom("a.example", "B.EXAMPLE:80", "::1", "http://x.example/p", "é", "\0"),
  fc.string({ maxLength: 12 }),
);

test("the HTTP parser never throws and keeps its output bounded", () => {
  const input = fc.oneof(
    fc.array(httpToken, { maxLength: 30 }).map((tokens) => Buffer.from(tokens.join(""), "latin1")),
    fc.uint8Array({ maxLength: 300 }),
  );
  fc.assert(
    fc.property(input, fc.integer({ min: 1, max: 400 }), (bytes, maxHead) => {
      const result = parseHttpRequest(bytes, maxHead);
      if (result.kind !== "request") return;
      assert.ok(result.path.length <= MAX_PATH_LENGTH);
      for (const host of [result.host, result.forwardedHost, result.realHost]) {
        if (host) assert.ok(HOST.test(host) || /^[0-9a-f:.]+$/.test(host), host);
      }
    }),
    { numRuns: RUNS },
  );
});

test("packet decoding never throws and its payload stays inside the packet", () => {
  const valid = fc
    .record({
      src: fc.constantFrom("10.0.0.2", "fd77::2"),
      seq: fc.nat(),
      payload: fc.uint8Array({ maxLength: 60 }),
    })
    .map((spec) => ipPacket({ ...spec, dst: spec.src.includes(":") ? "fd77::1" : "10.0.0.1" }));
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 120 }),
    fc
      .tuple(valid, edits, fc.nat())
      .map(([packet, changes, n]) => mutate(packet, changes).subarray(0, n % (packet.length + 1))),
  );
  fc.assert(
    fc.property(input, fc.constantFrom(1, 101, 113, 239, 276), (bytes, linkType) => {
      for (const packet of [bytes, networkPacket(linkType, bytes)]) {
        const segment = packet && decodeTcpPacket(packet);
        if (segment) assert.ok(segment.payload.length <= packet.length - 40);
      }
    }),
    { numRuns: RUNS },
  );
});

test("the flow table stays within its bounds under random segments", () => {
  const segment = fc.record({
    port: fc.integer({ min: 1, max: 40 }),
    offset: fc.integer({ min: -3000, max: 20_000 }),
    length: fc.integer({ min: 0, max: 3000 }),
    flags: fc.constantFrom("S", "SA", "A", "PA", "R", "FA") as fc.Arbitrary<
      "S" | "SA" | "A" | "PA" | "R" | "FA"
    >,
    dt: fc.nat(3000),
  });
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 30 }), (segments) => {
      const table = new FlowTable({
        maxFlows: 10,
        maxPrefixBytes: 4096,
        maxBufferedBytes: 20_000,
        idleTimeoutMs: 5000,
      });
      let now = 0;
      for (const s of segments) {
        now += s.dt;
        const packet = ipPacket({
          srcPort: s.port,
          seq: (0xfffff000 + s.offset) >>> 0,
          flags: s.flags,
          payload: new Uint8Array(s.length),
        });
        const flow = table.accept(decodeTcpPacket(packet)!, now);
        if (flow) assert.ok(table.prefix(flow).length <= 4096);
        assert.ok(table.size <= 10 && table.bufferedBytes <= 20_000 && table.bufferedBytes >= 0);
      }
    }),
    { numRuns: RUNS / 2 },
  );
});
