/**
 * Strips the link-layer header of a captured frame, leaving the IPv4 or IPv6 packet.
 * Covers what tcpdump writes on Linux: NFLOG for kuota's own capture, and Ethernet, Linux
 * cooked (v1 and v2) and raw IP for captures a seller saved by hand.
 */
import { LINKTYPE_NFLOG, nflogPayload } from "./nflog.js";

/** LINKTYPE_* values understood by {@link networkPacket}. */
export const LINKTYPE = {
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  NFLOG: LINKTYPE_NFLOG,
  LINUX_SLL2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;

/**
 * Returns the IP packet inside a frame of the given link type, or null for other protocols,
 * unknown link types and frames too short to hold their own header. The result views `frame`.
 */
export function networkPacket(linkType: number, frame: Uint8Array): Uint8Array | null {
  switch (linkType) {
    case LINKTYPE.NFLOG:
      return nflogPayload(frame);
    case LINKTYPE.ETHERNET:
      return ethernetPayload(frame);
    case LINKTYPE.LINUX_SLL:
      return frame.length >= 16 && isIp(uint16(frame, 14)) ? frame.subarray(16) : null;
    case LINKTYPE.LINUX_SLL2:
      return frame.length >= 20 && isIp(uint16(frame, 0)) ? frame.subarray(20) : null;
    case LINKTYPE.RAW:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      return frame;
    default:
      return null;
  }
}

/** Ethernet II, with up to two VLAN tags. */
function ethernetPayload(frame: Uint8Array): Uint8Array | null {
  let at = 12;
  for (let tags = 0; tags <= 2; tags++) {
    if (frame.length < at + 2) return null;
    const etherType = uint16(frame, at);
    if (isIp(etherType)) return frame.subarray(at + 2);
    if (etherType !== ETHERTYPE_VLAN && etherType !== ETHERTYPE_QINQ) return null;
    at += 4;
  }
  return null;
}

function isIp(etherType: number): boolean {
  return etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6;
}

function uint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}
