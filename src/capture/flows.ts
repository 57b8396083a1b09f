/**
 * Bounded reassembly of the first bytes each client sends on a TCP connection: enough to
 * read a ClientHello or an HTTP request head that spans several segments, arriving out of
 * order, retransmitted or overlapping. Only the client→server direction is kept.
 */
import type { TcpSegment } from "./packet.js";

/** Bounds of a {@link FlowTable}. Every one holds under any input. */
export interface FlowLimits {
  /** Bytes of each client stream kept, from its first byte. Default 16,384. */
  maxPrefixBytes: number;
  /** Connections tracked at once; the least recently seen is dropped first. Default 16,384. */
  maxFlows: number;
  /** A connection with no packet for this long is forgotten, ms. Default 10,000. */
  idleTimeoutMs: number;
  /** Payload bytes held across all connections; least recently seen dropped. Default 32 MiB. */
  maxBufferedBytes: number;
}

export const DEFAULT_FLOW_LIMITS: FlowLimits = {
  maxPrefixBytes: 16_384,
  maxFlows: 16_384,
  idleTimeoutMs: 10_000,
  maxBufferedBytes: 32 * 1024 * 1024,
};

/** Out-of-order pieces kept per connection until the gap before them fills. */
const MAX_PIECES = 32;
const INITIAL_CAPACITY = 2_048;

/** One client→server TCP stream, as far as it has been reassembled. */
export interface Flow {
  readonly key: string;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  /** Time of the first packet seen, ms since the epoch. */
  readonly firstTsMs: number;
  lastTsMs: number;
  /** Set by {@link FlowTable.finish}: later packets are ignored and nothing is buffered. */
  finished: boolean;
  /** Sequence number of stream byte 0 (ISN + 1, or the first sequence number seen). */
  base: number;
  /** Storage for the contiguous prefix; only the first `filled` bytes are meaningful. */
  data: Uint8Array;
  filled: number;
  pieces: { offset: number; bytes: Uint8Array }[];
  piecesBytes: number;
}

/** Counters since the table was made. */
export interface FlowTableStats {
  /** Connections dropped to respect `maxFlows` or `maxBufferedBytes` before they finished. */
  evicted: number;
  /** Connections forgotten after `idleTimeoutMs` before they finished. */
  timedOut: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Tracks client→server streams by 5-tuple. Time comes from the packets themselves, so a saved
 * capture replays the same way as a live one. Memory is bounded by {@link FlowLimits}.
 */
export class FlowTable {
  readonly limits: FlowLimits;
  /** Map order is least recently seen first: each packet moves its flow to the end. */
  readonly #flows = new Map<string, Flow>();
  #bufferedBytes = 0;
  #stats: FlowTableStats = { evicted: 0, timedOut: 0 };

  constructor(limits: Partial<FlowLimits> = {}) {
    this.limits = { ...DEFAULT_FLOW_LIMITS, ...limits };
  }

  /** Connections tracked, finished ones included. */
  get size(): number {
    return this.#flows.size;
  }

  /** Payload bytes held for unfinished connections. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  get stats(): Readonly<FlowTableStats> {
    return this.#stats;
  }

  /**
   * Adds one segment seen at `tsMs`. Returns its flow when the contiguous prefix grew (parse
   * it again), otherwise null: duplicates, gaps, bytes past the cap, finished flows, and
   * server→client segments recognised by their SYN-ACK.
   */
  accept(segment: TcpSegment, tsMs: number): Flow | null {
    this.expire(tsMs);
    const key = `${segment.srcIp} ${segment.srcPort} ${segment.dstIp} ${segment.dstPort}`;
    let flow = this.#flows.get(key);
    if (segment.rst) {
      if (flow !== undefined) this.#remove(flow);
      return null;
    }
    // A new SYN on a known 5-tuple is a new connection reusing the client port.
    const reused =
      flow !== undefined && segment.syn && !segment.ack && flow.base !== seqAdd(segment.seq, 1);
    if (flow === undefined || reused) {
      if (flow !== undefined) this.#remove(flow);
      flow = this.#create(key, segment, tsMs);
    } else {
      this.#flows.delete(key);
      this.#flows.set(key, flow);
      flow.lastTsMs = tsMs;
    }
    if (flow.finished || segment.payload.length === 0) return null;
    const grew = this.#place(flow, segment.seq + (segment.syn ? 1 : 0), segment.payload);
    this.#enforceByteBound();
    return grew && !flow.finished ? flow : null;
  }

  /** The contiguous bytes of a flow's client stream so far. A view: do not keep it. */
  prefix(flow: Flow): Uint8Array {
    return flow.data.subarray(0, flow.filled);
  }

  /** True when the prefix has reached `maxPrefixBytes` and will not grow any more. */
  isFull(flow: Flow): boolean {
    return flow.filled >= this.limits.maxPrefixBytes;
  }

  /** Marks a flow parsed: its buffers are freed and its later packets ignored until idle. */
  finish(flow: Flow): void {
    if (flow.finished) return;
    this.#release(flow);
    flow.finished = true;
  }

  /** Forgets every flow idle for `idleTimeoutMs` at time `nowMs`. Amortised O(1) per packet. */
  expire(nowMs: number): void {
    for (const flow of this.#flows.values()) {
      if (flow.lastTsMs + this.limits.idleTimeoutMs > nowMs) break;
      if (!flow.finished) this.#stats.timedOut++;
      this.#remove(flow);
    }
  }

  #create(key: string, segment: TcpSegment, tsMs: number): Flow {
    while (this.#flows.size >= this.limits.maxFlows) this.#evictOldest();
    const flow: Flow = {
      key,
      srcIp: segment.srcIp,
      srcPort: segment.srcPort,
      dstIp: segment.dstIp,
      dstPort: segment.dstPort,
      firstTsMs: tsMs,
      lastTsMs: tsMs,
      // A SYN-ACK starts the server's direction, which never carries what we look for.
      finished: segment.syn && segment.ack,
      base: segment.syn ? seqAdd(segment.seq, 1) : segment.seq,
      data: EMPTY,
      filled: 0,
      pieces: [],
      piecesBytes: 0,
    };
    this.#flows.set(key, flow);
    return flow;
  }

  /** Puts payload starting at sequence number `seq` in place; true if the prefix grew. */
  #place(flow: Flow, seq: number, payload: Uint8Array): boolean {
    const cap = this.limits.maxPrefixBytes;
    let offset = (seq - flow.base) | 0;
    let bytes = payload;
    if (offset < 0) {
      // Bytes before the stream start (or before the first sequence number seen): trim.
      if (-offset >= bytes.length) return false;
      bytes = bytes.subarray(-offset);
      offset = 0;
    }
    const end = Math.min(offset + bytes.length, cap);
    if (end <= offset || end <= flow.filled) return false;
    if (offset > flow.filled) {
      this.#keepPiece(flow, offset, bytes.subarray(0, end - offset));
      return false;
    }
    this.#append(flow, bytes.subarray(flow.filled - offset, end - offset));
    this.#drainPieces(flow);
    return true;
  }

  #keepPiece(flow: Flow, offset: number, bytes: Uint8Array): void {
    const cap = this.limits.maxPrefixBytes;
    if (flow.pieces.length >= MAX_PIECES || flow.piecesBytes + bytes.length > cap) return;
    flow.pieces.push({ offset, bytes: bytes.slice() });
    flow.piecesBytes += bytes.length;
    this.#bufferedBytes += bytes.length;
  }

  /** Moves every stored piece that now touches the prefix into it. */
  #drainPieces(flow: Flow): void {
    let progressed = true;
    while (progressed && flow.pieces.length > 0) {
      progressed = false;
      const waiting: Flow["pieces"] = [];
      for (const piece of flow.pieces) {
        const end = piece.offset + piece.bytes.length;
        if (piece.offset > flow.filled) {
          waiting.push(piece);
          continue;
        }
        if (end > flow.filled) {
          this.#append(flow, piece.bytes.subarray(flow.filled - piece.offset));
          progressed = true;
        }
        flow.piecesBytes -= piece.bytes.length;
        this.#bufferedBytes -= piece.bytes.length;
      }
      flow.pieces = waiting;
    }
  }

  #append(flow: Flow, bytes: Uint8Array): void {
    const needed = flow.filled + bytes.length;
    if (needed > flow.data.length) {
      const capacity = Math.min(
        this.limits.maxPrefixBytes,
        Math.max(needed, flow.data.length * 2, INITIAL_CAPACITY),
      );
      const data = new Uint8Array(capacity);
      data.set(flow.data.subarray(0, flow.filled));
      this.#bufferedBytes += capacity - flow.data.length;
      flow.data = data;
    }
    flow.data.set(bytes, flow.filled);
    flow.filled = needed;
  }

  #enforceByteBound(): void {
    while (this.#bufferedBytes > this.limits.maxBufferedBytes && this.#flows.size > 0) {
      this.#evictOldest();
    }
  }

  #evictOldest(): void {
    const oldest = this.#flows.values().next();
    if (oldest.done === true) return;
    if (!oldest.value.finished) this.#stats.evicted++;
    this.#remove(oldest.value);
  }

  #remove(flow: Flow): void {
    this.#release(flow);
    flow.finished = true;
    this.#flows.delete(flow.key);
  }

  #release(flow: Flow): void {
    this.#bufferedBytes -= flow.data.length + flow.piecesBytes;
    flow.data = EMPTY;
    flow.filled = 0;
    flow.pieces = [];
    flow.piecesBytes = 0;
  }
}

/** Adds to a 32-bit TCP sequence number, wrapping. */
function seqAdd(seq: number, delta: number): number {
  return (seq + delta) >>> 0;
}
