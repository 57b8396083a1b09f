// Builders for hand-made packets and pcap files used by the capture tests.

export interface SegmentSpec {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  seq: number;
  flags?: "S" | "SA" | "A" | "PA" | "R" | "FA";
  payload?: Uint8Array;
}

const FLAG_BITS = { S: 0x02, SA: 0x12, A: 0x10, PA: 0x18, R: 0x04, FA: 0x11 } as const;

/** A TCP segment inside an IPv4 or IPv6 packet (family from the address form). */
export function ipPacket(spec: SegmentSpec): Uint8Array {
  const src = spec.src ?? "10.0.0.2";
  const dst = spec.dst ?? "10.0.0.1";
  const payload = spec.payload ?? new Uint8Array(0);
  const tcp = new Uint8Array(20 + payload.length);
  const view = new DataView(tcp.buffer);
  view.setUint16(0, spec.srcPort ?? 40000);
  view.setUint16(2, spec.dstPort ?? 443);
  view.setUint32(4, spec.seq >>> 0);
  tcp[12] = 5 << 4;
  tcp[13] = FLAG_BITS[spec.flags ?? "PA"];
  view.setUint16(14, 64240);
  tcp.set(payload, 20);
  if (src.includes(":")) {
    const ip = new Uint8Array(40 + tcp.length);
    const ipView = new DataView(ip.buffer);
    ip[0] = 0x60;
    ipView.setUint16(4, tcp.length);
    ip[6] = 6;
    ip[7] = 64;
    ip.set(ipv6Bytes(src), 8);
    ip.set(ipv6Bytes(dst), 24);
    ip.set(tcp, 40);
    return ip;
  }
  const ip = new Uint8Array(20 + tcp.length);
  const ipView = new DataView(ip.buffer);
  ip[0] = 0x45;
  ipView.setUint16(2, ip.length);
  ipView.setUint16(6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  ip.set(src.split(".").map(Number), 12);
  ip.set(dst.split(".").map(Number), 16);
  ip.set(tcp, 20);
  return ip;
}

function ipv6Bytes(text: string): Uint8Array {
  const [head = "", tail = ""] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  const groups = text.includes("::")
    ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups]
    : headGroups;
  const bytes = new Uint8Array(16);
  groups.forEach((group: string, i: number) => {
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** An Ethernet II frame around an IP packet, padded to the 60-byte minimum. */
export function ethernetFrame(ip: Uint8Array): Uint8Array {
  const frame = new Uint8Array(Math.max(60, 14 + ip.length));
  frame[12] = ip[0]! >> 4 === 6 ? 0x86 : 0x08;
  frame[13] = ip[0]! >> 4 === 6 ? 0xdd : 0x00;
  frame.set(ip, 14);
  return frame;
}

/** An NFLOG record as Linux writes it: header, a prefix TLV, then the payload TLV (type 9). */
export function nflogRecord(ip: Uint8Array): Uint8Array {
  const prefix = tlv(10, new TextEncoder().encode("kuota\0"));
  const payload = tlv(9, ip);
  const record = new Uint8Array(4 + prefix.length + payload.length);
  record[0] = 2;
  record[3] = 41;
  record.set(prefix, 4);
  record.set(payload, 4 + prefix.length);
  return record;
}

function tlv(type: number, value: Uint8Array): Uint8Array {
  const length = 4 + value.length;
  const out = new Uint8Array((length + 3) & ~3);
  out[0] = length & 0xff;
  out[1] = length >> 8;
  out[2] = type;
  out.set(value, 4);
  return out;
}

export interface PcapOptions {
  linkType: number;
  littleEndian?: boolean;
  nanoseconds?: boolean;
}

/** A classic pcap file holding `frames`, one per millisecond from `startMs`. */
export function pcapFile(frames: Uint8Array[], options: PcapOptions, startMs = 1_700_000_000_000) {
  const little = options.littleEndian ?? true;
  const parts: Uint8Array[] = [];
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, options.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, little);
  header.setUint16(4, 2, little);
  header.setUint16(6, 4, little);
  header.setUint32(16, 262144, little);
  header.setUint32(20, options.linkType, little);
  parts.push(new Uint8Array(header.buffer));
  frames.forEach((frame, i) => {
    const ms = startMs + i;
    const record = new DataView(new ArrayBuffer(16));
    record.setUint32(0, Math.floor(ms / 1000), little);
    const fraction = (ms % 1000) * (options.nanoseconds ? 1_000_000 : 1000);
    record.setUint32(4, fraction, little);
    record.setUint32(8, frame.length, little);
    record.setUint32(12, frame.length, little);
    parts.push(new Uint8Array(record.buffer), frame);
  });
  return Buffer.concat(parts);
}

export interface HelloSpec {
  host?: string;
  /** Bytes of padding extension placed before the SNI extension. */
  paddingBefore?: number;
  /** Bytes of padding extension placed after the SNI extension. */
  paddingAfter?: number;
  /** Split the handshake message over TLS records of at most this many bytes. */
  recordSize?: number;
}

/** A TLS 1.3-style ClientHello in one or more handshake records. */
export function clientHello(spec: HelloSpec): Uint8Array {
  const extensions: Uint8Array[] = [];
  if (spec.paddingBefore !== undefined)
    extensions.push(extension(21, new Uint8Array(spec.paddingBefore)));
  if (spec.host !== undefined) {
    const name = new TextEncoder().encode(spec.host);
    const body = new Uint8Array(5 + name.length);
    new DataView(body.buffer).setUint16(0, 3 + name.length);
    body[2] = 0;
    new DataView(body.buffer).setUint16(3, name.length);
    body.set(name, 5);
    extensions.push(extension(0, body));
  }
  extensions.push(extension(43, Uint8Array.of(2, 3, 4)));
  if (spec.paddingAfter !== undefined)
    extensions.push(extension(21, new Uint8Array(spec.paddingAfter)));
  const extensionBytes = Buffer.concat(extensions);
  const body = Buffer.concat([
    Uint8Array.of(3, 3),
    new Uint8Array(32).fill(7),
    Uint8Array.of(32),
    new Uint8Array(32).fill(9),
    Uint8Array.of(0, 4, 0x13, 0x01, 0x13, 0x02),
    Uint8Array.of(1, 0),
    u16(extensionBytes.length),
    extensionBytes,
  ]);
  const handshake = Buffer.concat([
    Uint8Array.of(1, 0, body.length >> 8, body.length & 0xff),
    body,
  ]);
  const recordSize = spec.recordSize ?? 16384;
  const records: Uint8Array[] = [];
  for (let at = 0; at < handshake.length; at += recordSize) {
    const fragment = handshake.subarray(at, at + recordSize);
    records.push(Uint8Array.of(22, 3, 1), u16(fragment.length), fragment);
  }
  return Buffer.concat(records);
}

function extension(type: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

function u16(value: number): Uint8Array {
  return Uint8Array.of(value >> 8, value & 0xff);
}

/** Cuts `bytes` at the given offsets. */
export function cut(bytes: Uint8Array, ...offsets: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const offset of [...offsets, bytes.length]) {
    pieces.push(bytes.subarray(from, offset));
    from = offset;
  }
  return pieces;
}

export const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
