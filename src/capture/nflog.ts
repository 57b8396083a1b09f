/**
 * NFLOG link type (239): a 4-byte header (address family, version, resource id) followed by
 * type-length-value attributes. Lengths and types are in the capturing host's byte order,
 * little-endian on the x86 and ARM servers kuota runs on; each attribute is padded to 4 bytes.
 */

/** LINKTYPE_NFLOG. */
export const LINKTYPE_NFLOG = 239;

/** NFULA_PAYLOAD: the attribute that carries the logged network-layer packet. */
const NFULA_PAYLOAD = 9;
const HEADER_BYTES = 4;
const TLV_HEADER_BYTES = 4;

/**
 * Returns the packet carried in an NFLOG record (starting at its IP header), or null when the
 * record has no payload attribute or its attributes are malformed. The result views `record`.
 */
export function nflogPayload(record: Uint8Array): Uint8Array | null {
  let at = HEADER_BYTES;
  while (at + TLV_HEADER_BYTES <= record.length) {
    const length = record[at]! | (record[at + 1]! << 8);
    // The top bits of the type are NLA_F_NESTED / NLA_F_NET_BYTEORDER flags.
    const type = (record[at + 2]! | (record[at + 3]! << 8)) & 0x3fff;
    if (length < TLV_HEADER_BYTES || at + length > record.length) return null;
    if (type === NFULA_PAYLOAD) return record.subarray(at + TLV_HEADER_BYTES, at + length);
    at += (length + 3) & ~3;
  }
  return null;
}
