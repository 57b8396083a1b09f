import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowTable } from "../../../src/capture/flows.js";
import { decodeTcpPacket, type TcpSegment } from "../../../src/capture/packet.js";
import { ipPacket, type SegmentSpec } from "./build.js";

const ISN = 0xfffffff0; // close to the wrap, so sequence arithmetic is exercised
const seg = (spec: SegmentSpec): TcpSegment => decodeTcpPacket(ipPacket(spec))!;
const bytes = (from: number, to: number) =>
  Uint8Array.from({ length: to - from }, (_, i) => (from + i) & 0xff);
const data = (from: number, to: number, srcPort = 40000) =>
  seg({ seq: ISN + 1 + from, srcPort, payload: bytes(from, to) });

test("joins in-order segments from the SYN's sequence number, across the 2^32 wrap", () => {
  const table = new FlowTable();
  assert.equal(table.accept(seg({ seq: ISN, flags: "S" }), 0), null);
  assert.equal(table.accept(seg({ seq: ISN + 1, flags: "A" }), 1), null);
  const first = table.accept(data(0, 100), 2);
  assert.ok(first);
  assert.deepEqual(table.prefix(first), bytes(0, 100));
  const second = table.accept(data(100, 250), 3);
  assert.deepEqual(second && table.prefix(second), bytes(0, 250));
});

test("holds out-of-order segments until the gap fills", () => {
  const table = new FlowTable();
  table.accept(seg({ seq: ISN, flags: "S" }), 0);
  assert.equal(table.accept(data(200, 300), 1), null);
  assert.equal(table.accept(data(100, 200), 2), null);
  const flow = table.accept(data(0, 100), 3);
  assert.deepEqual(flow && table.prefix(flow), bytes(0, 300));
  assert.ok(table.bufferedBytes >= 300);
});

test("ignores retransmissions and keeps the first copy of overlapping bytes", () => {
  const table = new FlowTable();
  table.accept(seg({ seq: ISN, flags: "S" }), 0);
  table.accept(data(0, 100), 1);
  assert.equal(table.accept(data(0, 100), 2), null);
  assert.equal(table.accept(data(50, 80), 3), null);
  const overlap = seg({ seq: ISN + 1 + 50, payload: new Uint8Array(100).fill(0xee) });
  const flow = table.accept(overlap, 4);
  assert.ok(flow);
  const prefix = table.prefix(flow);
  assert.deepEqual(prefix.subarray(0, 100), bytes(0, 100));
  assert.deepEqual(prefix.subarray(100), new Uint8Array(50).fill(0xee));
});

test("without a SYN starts at the first sequence number seen (the handshake's last ACK)", () => {
  const table = new FlowTable();
  assert.equal(table.accept(seg({ seq: ISN + 1, flags: "A" }), 0), null);
  assert.equal(table.accept(data(100, 200), 1), null);
  const flow = table.accept(data(0, 100), 2);
  assert.deepEqual(flow && table.prefix(flow), bytes(0, 200));
});

test("keeps at most maxPrefixBytes of each stream", () => {
  const table = new FlowTable({ maxPrefixBytes: 150 });
  table.accept(seg({ seq: ISN, flags: "S" }), 0);
  const flow = table.accept(data(0, 1000), 1);
  assert.ok(flow);
  assert.equal(table.prefix(flow).length, 150);
  assert.ok(table.isFull(flow));
  assert.equal(table.accept(data(1000, 2000), 2), null);
  assert.ok(table.bufferedBytes <= 150);
});

test("ignores a finished flow and frees its bytes", () => {
  const table = new FlowTable();
  const flow = table.accept(data(0, 100), 0);
  assert.ok(flow);
  table.finish(flow);
  assert.equal(table.bufferedBytes, 0);
  assert.equal(table.accept(data(100, 200), 1), null);
  assert.equal(table.size, 1);
});

test("never builds a flow from the server's side of a connection", () => {
  const table = new FlowTable();
  const synAck = seg({
    seq: 5,
    flags: "SA",
    src: "10.0.0.1",
    dst: "10.0.0.2",
    srcPort: 443,
    dstPort: 40000,
  });
  table.accept(synAck, 0);
  const reply = seg({
    seq: 6,
    src: "10.0.0.1",
    dst: "10.0.0.2",
    srcPort: 443,
    dstPort: 40000,
    payload: bytes(0, 10),
  });
  assert.equal(table.accept(reply, 1), null);
});

test("starts over when a new SYN reuses the client port", () => {
  const table = new FlowTable();
  table.accept(seg({ seq: ISN, flags: "S" }), 0);
  const old = table.accept(data(0, 10), 1);
  assert.ok(old);
  table.finish(old);
  table.accept(seg({ seq: 1000, flags: "S" }), 2);
  const fresh = table.accept(seg({ seq: 1001, payload: bytes(0, 10) }), 3);
  assert.deepEqual(fresh && table.prefix(fresh), bytes(0, 10));
});

test("evicts the least recently seen flow past maxFlows", () => {
  const table = new FlowTable({ maxFlows: 3 });
  for (let port = 1; port <= 5; port++) table.accept(data(0, 10, port), port);
  assert.equal(table.size, 3);
  assert.equal(table.stats.evicted, 2);
});

test("forgets flows idle for idleTimeoutMs and drops state on RST", () => {
  const table = new FlowTable({ idleTimeoutMs: 1000 });
  table.accept(data(100, 200, 1), 0);
  table.accept(data(100, 200, 2), 500);
  table.expire(1200);
  assert.equal(table.size, 1);
  assert.equal(table.stats.timedOut, 1);
  table.accept(seg({ seq: 0, srcPort: 2, flags: "R" }), 1300);
  assert.equal(table.size, 0);
  assert.equal(table.bufferedBytes, 0);
});

test("stays under maxBufferedBytes by dropping the least recently seen flows", () => {
  const table = new FlowTable({ maxBufferedBytes: 10_000 });
  for (let port = 1; port <= 50; port++) table.accept(data(0, 1000, port), port);
  assert.ok(table.bufferedBytes <= 10_000);
  assert.ok(table.stats.evicted > 0);
});
