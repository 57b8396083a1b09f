/**
 * A decoder for QueryStatsResponse, the one message kuota reads every second with
 * one entry per counter (2 per account). protobufjs decodes it correctly but builds
 * a Stat, a plain-object copy of it and a Long-to-number conversion for every
 * counter; on an idle server that garbage, collected every few polls, was the
 * largest part of the worker's CPU. This walks the wire format once and makes one
 * small object per counter.
 *
 * Wire format (proto3): QueryStatsResponse { repeated Stat stat = 1; }, Stat
 * { string name = 1; int64 value = 2; }. Unknown fields are skipped, as protobuf
 * requires, so a newer engine that adds fields still decodes.
 */
import type { EngineStat } from "./engine-client.js";

/** The engine's answer was not a well-formed QueryStatsResponse. */
export class StatListDecodeError extends Error {
  override readonly name = "StatListDecodeError";
}

/** Reads protobuf messages from one buffer; every read is bounds-checked. */
class Reader {
  pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint as a number; exact up to 2^53 (counters in bytes stay far below). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new StatListDecodeError("varint runs past the message");
      const byte = this.buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new StatListDecodeError("varint longer than 10 bytes");
  }

  /** The bounds of a length-delimited field's body; moves past it. */
  delimited(): [start: number, end: number] {
    const length = this.varint();
    const start = this.pos;
    if (length > this.end - start) throw new StatListDecodeError("field runs past the message");
    this.pos = start + length;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.delimited();
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      if (size > this.end - this.pos) throw new StatListDecodeError("field runs past the message");
      this.pos += size;
    } else throw new StatListDecodeError(`unsupported wire type ${wireType}`);
  }
}

function decodeStat(buf: Buffer, start: number, end: number): EngineStat {
  const r = new Reader(buf, start, end);
  let name = "";
  let value = 0;
  while (r.pos < r.end) {
    const key = r.varint();
    if (key === 0x0a) {
      const [s, e] = r.delimited();
      name = buf.toString("utf8", s, e);
    } else if (key === 0x10) value = r.varint();
    else r.skip(key & 7);
  }
  return { name, value };
}

/**
 * Decodes a QueryStatsResponse's bytes.
 * @throws StatListDecodeError when the bytes are not a well-formed message
 */
export function decodeStatList(buf: Buffer): EngineStat[] {
  const stats: EngineStat[] = [];
  const r = new Reader(buf, 0, buf.length);
  while (r.pos < r.end) {
    const key = r.varint();
    if (key === 0x0a) {
      const [s, e] = r.delimited();
      stats.push(decodeStat(buf, s, e));
    } else r.skip(key & 7);
  }
  return stats;
}
