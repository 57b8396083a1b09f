/**
 * Incremental reader for classic pcap (not pcapng), as written by `tcpdump -w -`.
 * Chunks may split the file anywhere; records come out whole.
 *
 * This and the other readers of captured bytes in capture/ (nflog.ts, packet.ts,
 * tls-client-hello.ts, http-request.ts) are written here: `pcap` on npm binds libpcap natively
 * (a compiler and headers on every server), pcap-parser dates from Node 0.6 (the deprecated
 * `new Buffer`, everything buffered copied again on every chunk, no nanosecond files), and
 * read-tls-client-hello reads a server's own incoming socket, not a captured flow. Each is
 * fuzzed in test/unit/capture/fuzz.test.ts.
 */

/** One captured packet. `data` views the bytes fed in; copy it to keep it past the next feed. */
export interface PcapRecord {
  /** Capture time, whole milliseconds since the Unix epoch. */
  tsMs: number;
  /** LINKTYPE_* of the file, e.g. 1 Ethernet, 113 Linux SLL, 239 NFLOG. */
  linkType: number;
  /** The captured bytes (at most the caplen of the record). */
  data: Uint8Array;
  /** Length of the packet on the wire, bytes; larger than `data.length` when snapped. */
  wireLength: number;
}

/** Largest record a pcap reader accepts, bytes. libpcap's own ceiling for most link types. */
export const MAX_RECORD_BYTES = 262_144;

const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

/**
 * Parses a classic pcap byte stream fed in arbitrary chunks: both byte orders, micro- and
 * nanosecond timestamps. It never throws on bad input: a bad magic number or a record larger
 * than {@link MAX_RECORD_BYTES} puts the stream in a failed state (see {@link error}) and all
 * later input is ignored. Memory held between feeds is below 16 + 262,144 bytes.
 */
export class PcapStream {
  #pending: Uint8Array = new Uint8Array(0);
  #littleEndian = false;
  #nanoseconds = false;
  #linkType = -1;
  #error: string | undefined;

  /** Why the stream stopped, or undefined while it is healthy. */
  get error(): string | undefined {
    return this.#error;
  }

  /** LINKTYPE_* from the file header, or -1 before the header has arrived. */
  get linkType(): number {
    return this.#linkType;
  }

  /** Bytes held back waiting for the rest of a header or record. */
  get bufferedBytes(): number {
    return this.#pending.length;
  }

  /** Adds bytes to the stream and returns every record they complete, in file order. */
  feed(chunk: Uint8Array): PcapRecord[] {
    const records: PcapRecord[] = [];
    if (this.#error !== undefined || chunk.length === 0) return records;
    let bytes = chunk;
    if (this.#pending.length > 0) {
      bytes = new Uint8Array(this.#pending.length + chunk.length);
      bytes.set(this.#pending, 0);
      bytes.set(chunk, this.#pending.length);
    }
    let at = 0;
    if (this.#linkType < 0) {
      if (bytes.length < FILE_HEADER_BYTES) {
        this.#pending = bytes.slice();
        return records;
      }
      if (!this.#readFileHeader(bytes)) {
        this.#pending = new Uint8Array(0);
        return records;
      }
      at = FILE_HEADER_BYTES;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const little = this.#littleEndian;
    while (bytes.length - at >= RECORD_HEADER_BYTES) {
      const seconds = view.getUint32(at, little);
      const fraction = view.getUint32(at + 4, little);
      const capturedLength = view.getUint32(at + 8, little);
      const wireLength = view.getUint32(at + 12, little);
      if (capturedLength > MAX_RECORD_BYTES) {
        this.#fail(`record of ${capturedLength} bytes exceeds ${MAX_RECORD_BYTES}`);
        return records;
      }
      const end = at + RECORD_HEADER_BYTES + capturedLength;
      if (end > bytes.length) break;
      const subMs = this.#nanoseconds ? Math.floor(fraction / 1e6) : Math.floor(fraction / 1e3);
      records.push({
        tsMs: seconds * 1000 + subMs,
        linkType: this.#linkType,
        data: bytes.subarray(at + RECORD_HEADER_BYTES, end),
        wireLength,
      });
      at = end;
    }
    // Copy the tail so the caller's chunk is not pinned by a few leftover bytes.
    this.#pending = bytes.slice(at);
    return records;
  }

  #readFileHeader(bytes: Uint8Array): boolean {
    const magic = (bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!;
    switch (magic >>> 0) {
      case 0xa1b2c3d4:
        break;
      case 0xa1b23c4d:
        this.#nanoseconds = true;
        break;
      case 0xd4c3b2a1:
        this.#littleEndian = true;
        break;
      case 0x4d3cb2a1:
        this.#littleEndian = true;
        this.#nanoseconds = true;
        break;
      case 0x0a0d0d0a:
        this.#fail("pcapng is not supported; capture with tcpdump -w (classic pcap)");
        return false;
      default:
        this.#fail(`not a pcap stream (magic 0x${(magic >>> 0).toString(16).padStart(8, "0")})`);
        return false;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, FILE_HEADER_BYTES);
    // The top bits of the link type field carry FCS flags; the type is the low 16 bits.
    this.#linkType = view.getUint32(20, this.#littleEndian) & 0xffff;
    return true;
  }

  #fail(reason: string): void {
    this.#error = reason;
    this.#pending = new Uint8Array(0);
  }
}
