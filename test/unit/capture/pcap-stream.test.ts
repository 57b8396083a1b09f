import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_RECORD_BYTES, PcapStream } from "../../../src/capture/pcap-stream.js";
import { pcapFile } from "./build.js";

const frames = [Uint8Array.of(1, 2, 3), new Uint8Array(1500).fill(7), Uint8Array.of()];

function readAll(bytes: Uint8Array, chunkSize: number) {
  const stream = new PcapStream();
  const records = [];
  for (let at = 0; at < bytes.length; at += chunkSize) {
    for (const record of stream.feed(bytes.subarray(at, at + chunkSize))) {
      records.push({ ...record, data: Uint8Array.from(record.data) });
    }
  }
  return { stream, records };
}

for (const littleEndian of [true, false]) {
  for (const nanoseconds of [true, false]) {
    test(`reads ${littleEndian ? "little" : "big"}-endian ${nanoseconds ? "ns" : "µs"} pcap`, () => {
      const file = pcapFile(
        frames,
        { linkType: 239, littleEndian, nanoseconds },
        1_700_000_000_123,
      );
      const { stream, records } = readAll(file, file.length);
      assert.equal(stream.error, undefined);
      assert.equal(stream.linkType, 239);
      assert.deepEqual(
        records.map((r) => [r.tsMs, r.linkType, r.data.length, r.wireLength]),
        [
          [1_700_000_000_123, 239, 3, 3],
          [1_700_000_000_124, 239, 1500, 1500],
          [1_700_000_000_125, 239, 0, 0],
        ],
      );
    });
  }
}

test("gives the same records whatever the chunk boundaries, down to one byte", () => {
  const file = pcapFile(frames, { linkType: 1 });
  const whole = readAll(file, file.length).records;
  for (const size of [1, 2, 7, 16, 23, 24, 25, 1000]) {
    const { stream, records } = readAll(file, size);
    assert.deepEqual(records, whole, `chunk size ${size}`);
    assert.equal(stream.bufferedBytes, 0);
  }
});

test("stops with an error on a bad magic number and ignores later input", () => {
  const stream = new PcapStream();
  assert.deepEqual(stream.feed(new Uint8Array(40).fill(0x41)), []);
  assert.match(stream.error ?? "", /not a pcap stream \(magic 0x41414141\)/);
  assert.deepEqual(stream.feed(pcapFile(frames, { linkType: 1 })), []);
  assert.equal(stream.bufferedBytes, 0);
});

test("names pcapng as unsupported", () => {
  const stream = new PcapStream();
  stream.feed(Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, ...new Uint8Array(28)));
  assert.match(stream.error ?? "", /pcapng/);
});

test("stops with an error on a record larger than 256 KiB instead of buffering it", () => {
  const file = pcapFile([Uint8Array.of(1)], { linkType: 1 });
  new DataView(file.buffer, file.byteOffset).setUint32(24 + 8, MAX_RECORD_BYTES + 1, true);
  const stream = new PcapStream();
  assert.deepEqual(stream.feed(file), []);
  assert.match(stream.error ?? "", /exceeds 262144/);
});

test("holds a partial record until the rest arrives", () => {
  const file = pcapFile([new Uint8Array(100)], { linkType: 1 });
  const stream = new PcapStream();
  assert.deepEqual(stream.feed(file.subarray(0, 60)), []);
  assert.equal(stream.bufferedBytes, 36);
  assert.equal(stream.feed(file.subarray(60)).length, 1);
});
