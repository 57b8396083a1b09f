/**
 * Finds the server name (SNI) in the first bytes a client sent, which may hold a TLS
 * ClientHello spread over several records and TCP segments. Extensions are found by type,
 * never by offset: Chrome shuffles their order on every connection.
 */
import { normalizeHostName } from "./host-name.js";

/** What the first bytes of a connection say about TLS. */
export type ClientHelloResult =
  /** The bytes so far are a plausible ClientHello that has not reached the SNI yet. */
  | { kind: "need-more" }
  /** Not a TLS ClientHello (another protocol, or malformed). */
  | { kind: "not-tls" }
  /** The host_name from the server_name extension, normalized (see `normalizeHostName`). */
  | { kind: "sni"; host: string }
  /** A complete ClientHello without a usable host_name (absent, empty, or not a host name). */
  | { kind: "no-sni" };

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
const RECORD_HEADER_BYTES = 5;
/** Largest TLS record body allowed by RFC 8446 for ciphertext; plaintext is smaller. */
const MAX_RECORD_BYTES = 16_384 + 2_048;
/** Sanity bound on a ClientHello, bytes. Real ones are 200 to 2,500 (16 KiB with padding). */
const MAX_HELLO_BYTES = 65_536;

const NEED_MORE: ClientHelloResult = { kind: "need-more" };
const NOT_TLS: ClientHelloResult = { kind: "not-tls" };
const NO_SNI: ClientHelloResult = { kind: "no-sni" };

/**
 * Parses the contiguous start of the client→server stream. Work is linear in `prefix.length`;
 * call again with a longer prefix after `need-more`. The SNI is reported as soon as its
 * extension is complete, even if later extensions have not arrived.
 */
export function parseClientHello(prefix: Uint8Array): ClientHelloResult {
  const records = handshakeRecords(prefix);
  if (records === "not-tls") return NOT_TLS;
  const { handshake, closed } = records;
  if (handshake.length < 4) return closed ? NOT_TLS : NEED_MORE;
  if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
  const helloLength = (handshake[1]! << 16) | (handshake[2]! << 8) | handshake[3]!;
  if (helloLength < 38 || helloLength > MAX_HELLO_BYTES) return NOT_TLS;
  const complete = handshake.length >= 4 + helloLength;
  if (!complete && closed) return NOT_TLS;
  return walkHello(handshake.subarray(4, 4 + helloLength), complete);
}

/**
 * Joins the bodies of the handshake records at the start of `prefix` (a partial last record
 * counts for what it holds). `closed` is set when another record type follows them, as in
 * 0-RTT. Returns "not-tls" on a bad record header.
 */
function handshakeRecords(
  prefix: Uint8Array,
): { handshake: Uint8Array; closed: boolean } | "not-tls" {
  const parts: Uint8Array[] = [];
  let closed = false;
  let at = 0;
  while (at < prefix.length) {
    if (prefix[at] !== CONTENT_HANDSHAKE) {
      if (at === 0) return "not-tls";
      closed = true;
      break;
    }
    if (at + 1 < prefix.length && prefix[at + 1] !== 3) return "not-tls";
    if (at + 2 < prefix.length && prefix[at + 2]! > 4) return "not-tls";
    if (at + RECORD_HEADER_BYTES > prefix.length) break;
    const length = (prefix[at + 3]! << 8) | prefix[at + 4]!;
    if (length === 0 || length > MAX_RECORD_BYTES) return "not-tls";
    const end = Math.min(at + RECORD_HEADER_BYTES + length, prefix.length);
    parts.push(prefix.subarray(at + RECORD_HEADER_BYTES, end));
    at = end;
  }
  return { handshake: parts.length === 1 ? parts[0]! : concat(parts), closed };
}

/** Walks a ClientHello body (after the 4-byte handshake header), possibly truncated. */
function walkHello(body: Uint8Array, complete: boolean): ClientHelloResult {
  const more = complete ? NOT_TLS : NEED_MORE;
  // legacy_version (2) + random (32), then session id.
  let at = 34;
  if (at + 1 > body.length) return more;
  const sessionIdLength = body[at]!;
  if (sessionIdLength > 32) return NOT_TLS;
  at += 1 + sessionIdLength;
  if (at + 2 > body.length) return more;
  const suitesLength = uint16(body, at);
  if (suitesLength < 2 || suitesLength % 2 !== 0) return NOT_TLS;
  at += 2 + suitesLength;
  if (at + 1 > body.length) return more;
  const compressionLength = body[at]!;
  if (compressionLength < 1) return NOT_TLS;
  at += 1 + compressionLength;
  if (complete && at === body.length) return NO_SNI;
  if (at + 2 > body.length) return more;
  const extensionsEnd = at + 2 + uint16(body, at);
  if (complete && extensionsEnd !== body.length) return NOT_TLS;
  at += 2;
  while (at < extensionsEnd) {
    if (at + 4 > body.length) return more;
    const type = uint16(body, at);
    const end = at + 4 + uint16(body, at + 2);
    if (end > extensionsEnd) return NOT_TLS;
    if (type === EXTENSION_SERVER_NAME) {
      if (end > body.length) return more;
      return serverName(body.subarray(at + 4, end));
    }
    at = end;
  }
  return complete ? NO_SNI : NEED_MORE;
}

/** Reads the host_name entry of a complete server_name extension body. */
function serverName(extension: Uint8Array): ClientHelloResult {
  if (extension.length < 2) return NO_SNI;
  const listEnd = Math.min(2 + uint16(extension, 0), extension.length);
  let at = 2;
  while (at + 3 <= listEnd) {
    const nameType = extension[at]!;
    const end = at + 3 + uint16(extension, at + 1);
    if (end > listEnd) return NO_SNI;
    if (nameType === NAME_TYPE_HOST) {
      const host = normalizeHostName(latin1(extension.subarray(at + 3, end)));
      return host === null ? NO_SNI : { kind: "sni", host };
    }
    at = end;
  }
  return NO_SNI;
}

function latin1(bytes: Uint8Array): string {
  if (bytes.length > 255) return "";
  return String.fromCharCode(...bytes);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

function uint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}
