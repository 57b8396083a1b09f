/**
 * IPv4 / IPv6 + TCP decoding of one captured packet, enough to place its payload in a flow.
 * Everything else (fragments, UDP, ICMP, truncated headers) is skipped, never thrown on.
 */

/** A TCP segment as seen on the wire. `payload` views the packet bytes. */
export interface TcpSegment {
  family: 4 | 6;
  /** Dotted quad, or RFC 5952 text for IPv6 (lowercase, longest zero run as `::`). */
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** Sequence number of the first payload byte (of the SYN itself when `syn` is set). */
  seq: number;
  syn: boolean;
  ack: boolean;
  fin: boolean;
  rst: boolean;
  /** TCP payload, cut at the IP total length (Ethernet padding dropped), maybe snapped short. */
  payload: Uint8Array;
}

const PROTOCOL_TCP = 6;
/** IPv6 extension headers walked past: hop-by-hop, routing, destination options. */
const IPV6_SKIPPABLE = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;
/** A bound on the IPv6 extension chain, so a crafted packet cannot make us loop long. */
const MAX_IPV6_EXTENSIONS = 8;

/**
 * Decodes an IP packet carrying TCP. Returns null for anything else: other protocols, IP
 * fragments (their TCP header may be missing), and malformed or truncated headers.
 */
export function decodeTcpPacket(packet: Uint8Array): TcpSegment | null {
  if (packet.length < 1) return null;
  const version = packet[0]! >> 4;
  if (version === 4) return decodeIpv4(packet);
  if (version === 6) return decodeIpv6(packet);
  return null;
}

function decodeIpv4(packet: Uint8Array): TcpSegment | null {
  if (packet.length < 20) return null;
  const headerLength = (packet[0]! & 0x0f) * 4;
  const totalLength = uint16(packet, 2);
  if (headerLength < 20 || totalLength < headerLength || packet.length < headerLength) return null;
  // More-fragments flag or a non-zero offset: a fragment.
  if ((uint16(packet, 6) & 0x3fff) !== 0) return null;
  if (packet[9] !== PROTOCOL_TCP) return null;
  const end = Math.min(totalLength, packet.length);
  const srcIp = `${packet[12]}.${packet[13]}.${packet[14]}.${packet[15]}`;
  const dstIp = `${packet[16]}.${packet[17]}.${packet[18]}.${packet[19]}`;
  return decodeTcp(packet.subarray(headerLength, end), 4, srcIp, dstIp);
}

function decodeIpv6(packet: Uint8Array): TcpSegment | null {
  if (packet.length < 40) return null;
  const payloadLength = uint16(packet, 4);
  // Zero means a jumbogram, which never carries a connection's first bytes.
  if (payloadLength === 0) return null;
  const end = Math.min(40 + payloadLength, packet.length);
  let nextHeader = packet[6]!;
  let at = 40;
  for (let hops = 0; nextHeader !== PROTOCOL_TCP; hops++) {
    if (nextHeader === IPV6_FRAGMENT || !IPV6_SKIPPABLE.has(nextHeader)) return null;
    if (hops >= MAX_IPV6_EXTENSIONS || at + 8 > end) return null;
    nextHeader = packet[at]!;
    at += (packet[at + 1]! + 1) * 8;
  }
  if (at > end) return null;
  const srcIp = ipv6Text(packet, 8);
  const dstIp = ipv6Text(packet, 24);
  return decodeTcp(packet.subarray(at, end), 6, srcIp, dstIp);
}

function decodeTcp(
  segment: Uint8Array,
  family: 4 | 6,
  srcIp: string,
  dstIp: string,
): TcpSegment | null {
  if (segment.length < 20) return null;
  const headerLength = (segment[12]! >> 4) * 4;
  if (headerLength < 20 || headerLength > segment.length) return null;
  const flags = segment[13]!;
  return {
    family,
    srcIp,
    dstIp,
    srcPort: uint16(segment, 0),
    dstPort: uint16(segment, 2),
    seq: ((segment[4]! << 24) | (segment[5]! << 16) | (segment[6]! << 8) | segment[7]!) >>> 0,
    fin: (flags & 0x01) !== 0,
    syn: (flags & 0x02) !== 0,
    rst: (flags & 0x04) !== 0,
    ack: (flags & 0x10) !== 0,
    payload: segment.subarray(headerLength),
  };
}

/** RFC 5952 text form of the 16-byte address at `at`. */
function ipv6Text(packet: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(uint16(packet, at + i * 2));
  // Find the longest run of zero groups (length >= 2) to compress.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

function uint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}
