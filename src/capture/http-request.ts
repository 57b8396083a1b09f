/**
 * Reads the host and path of a plain HTTP/1.x request from the first bytes a client sent,
 * including requests whose headers spill into a second TCP segment (padded WebSocket upgrades).
 */
import { normalizeAuthorityHost } from "./host-name.js";

/** What the first bytes of a connection say about HTTP. */
export type HttpRequestResult =
  /** A plausible request whose header block has not ended yet. */
  | { kind: "need-more" }
  /** Not an HTTP/1.x request. */
  | { kind: "not-http" }
  | HttpRequest;

/** A parsed request head. Hosts are normalized; a value that is not a host is left out. */
export interface HttpRequest {
  kind: "request";
  method: HttpMethod;
  /** From the absolute-form target or CONNECT authority, else `Host`; null when neither is usable. */
  host: string | null;
  /** Request target as sent (origin-form path, or the authority for CONNECT), at most 1 KiB. */
  path: string;
  /** First entry of `X-Forwarded-Host`, when present. */
  forwardedHost?: string;
  /** `X-Real-Host`, when present. */
  realHost?: string;
}

export const HTTP_METHODS = [
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "OPTIONS",
  "CONNECT",
  "PATCH",
  "DELETE",
] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Longest path kept, characters; longer ones are cut. */
export const MAX_PATH_LENGTH = 1024;
/** Default bound on the request head, bytes: past it the complete lines are read as they are. */
export const DEFAULT_MAX_HEAD_BYTES = 16_384;

const NEED_MORE: HttpRequestResult = { kind: "need-more" };
const NOT_HTTP: HttpRequestResult = { kind: "not-http" };
const METHOD_PREFIXES = HTTP_METHODS.map((method) => Buffer.from(`${method} `, "latin1"));
const REQUEST_LINE = /^([A-Z]+) ([\x21-\x7e]+) HTTP\/1\.[01]$/;

/**
 * Parses the contiguous start of the client→server stream. Waits (`need-more`) until the
 * header block ends or `maxHeadBytes` have arrived, whichever is first; in the second case the
 * complete header lines seen so far are used.
 */
export function parseHttpRequest(
  prefix: Uint8Array,
  maxHeadBytes = DEFAULT_MAX_HEAD_BYTES,
): HttpRequestResult {
  const bytes = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const method = matchMethod(bytes);
  if (method === "need-more") return NEED_MORE;
  if (method === null) return NOT_HTTP;
  const limit = Math.min(bytes.length, maxHeadBytes);
  const lineEnd = bytes.indexOf(0x0a);
  if (lineEnd < 0 || lineEnd >= limit) return bytes.length < maxHeadBytes ? NEED_MORE : NOT_HTTP;
  const requestLine = REQUEST_LINE.exec(trimCr(bytes.toString("latin1", 0, lineEnd)));
  if (requestLine === null || requestLine[1] !== method) return NOT_HTTP;
  let headEnd = headerBlockEnd(bytes, lineEnd, limit);
  if (headEnd < 0) {
    if (bytes.length < maxHeadBytes) return NEED_MORE;
    headEnd = bytes.lastIndexOf(0x0a, limit - 1);
  }
  const target = requestLine[2]!;
  const request: HttpRequest = { kind: "request", method, host: null, path: target };
  readHeaders(bytes.toString("latin1", lineEnd + 1, headEnd), request);
  applyTarget(method, target, request);
  if (request.path.length > MAX_PATH_LENGTH) request.path = request.path.slice(0, MAX_PATH_LENGTH);
  return request;
}

/** The method the bytes start with; "need-more" while they are a prefix of one. */
function matchMethod(bytes: Buffer): HttpMethod | null | "need-more" {
  let partial = false;
  for (let i = 0; i < METHOD_PREFIXES.length; i++) {
    const expected = METHOD_PREFIXES[i]!;
    const n = Math.min(expected.length, bytes.length);
    if (bytes.compare(expected, 0, n, 0, n) !== 0) continue;
    if (n === expected.length) return HTTP_METHODS[i]!;
    partial = true;
  }
  return partial ? "need-more" : null;
}

/** Index of the empty line that ends the head (searching from the request line's end), or -1. */
function headerBlockEnd(bytes: Buffer, from: number, limit: number): number {
  for (let at = bytes.indexOf(0x0a, from); at >= 0 && at < limit;) {
    const next = at + 1;
    if (next < limit && bytes[next] === 0x0a) return next;
    if (next + 1 < limit && bytes[next] === 0x0d && bytes[next + 1] === 0x0a) return next;
    at = bytes.indexOf(0x0a, next);
  }
  return -1;
}

function readHeaders(head: string, request: HttpRequest): void {
  for (const rawLine of head.split("\n")) {
    const line = trimCr(rawLine);
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    if (name !== "host" && name !== "x-forwarded-host" && name !== "x-real-host") continue;
    const value = line.slice(colon + 1);
    if (name === "host") {
      request.host ??= normalizeAuthorityHost(value);
    } else if (name === "x-forwarded-host") {
      const first = normalizeAuthorityHost(value.split(",")[0] ?? "");
      if (first !== null && request.forwardedHost === undefined) request.forwardedHost = first;
    } else {
      const real = normalizeAuthorityHost(value);
      if (real !== null && request.realHost === undefined) request.realHost = real;
    }
  }
}

/** Absolute-form and authority-form targets name the host themselves (RFC 9112 §3.2). */
function applyTarget(method: HttpMethod, target: string, request: HttpRequest): void {
  if (method === "CONNECT") {
    request.host = normalizeAuthorityHost(target) ?? request.host;
    return;
  }
  const absolute = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
  if (absolute === null) return;
  request.host = normalizeAuthorityHost(absolute[1]!) ?? request.host;
  request.path = absolute[2] === "" ? "/" : absolute[2]!;
}

function trimCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
