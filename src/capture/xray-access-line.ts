/**
 * One line of an Xray or V2Ray access log, as far as host capture needs it:
 *   Xray:        `2026/12/03 18:20:01.123456 from 1.2.3.4:5678 accepted tcp:example.com:443 [vless-in -> direct] email: alice`
 *   V2Ray 4.34:  `2026/12/03 18:20:01 127.0.0.1:43210 accepted tcp:example.com:443 [direct] email: alice`
 */
import { isIP } from "node:net";
import { normalizeHostName } from "./host-name.js";

export type AccessLogEntry = {
  /** Local time of the line, ms since the epoch; null if the line has no readable time. */
  tsMs: number | null;
  sourceIp: string;
  /** Destination domain, normalized. */
  host: string;
  destPort: number;
  /** Inbound tag when the engine writes it (Xray's `[in -> out]`), else null (V2Ray 4.x). */
  inboundTag: string | null;
  outboundTag: string | null;
  /** The `email:` (account name), lowercased; null when the line has none. */
  account: string | null;
};

/** Lines longer than this are not access-log lines (bytes). */
export const MAX_ACCESS_LINE = 4_096;

const LINE =
  /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (?:from )?(?:(?:tcp|udp):)?(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d+ accepted (?:tcp|udp):(\[[^\]]*\]|[^\s[]+?):(\d{1,5})(?: \[([^\]]*)\])?(?: email: (\S+))?\s*$/;

/**
 * Reads one access-log line. Returns null for lines that are not an accepted connection to a
 * domain: rejected connections, IP destinations (not hosts; kuota records names clients asked
 * for), the engine's own API traffic (`[api]`, `[... -> api]`) and anything unreadable.
 */
export function parseAccessLine(line: string): AccessLogEntry | null {
  if (line.length > MAX_ACCESS_LINE) return null;
  const m = LINE.exec(line);
  if (m === null) return null;
  const [, year, month, day, hour, minute, second, source, dest, port, route, email] = m;
  const destination = dest as string;
  if (destination.startsWith("[") || isIP(destination) !== 0) return null;
  const host = normalizeHostName(destination);
  if (host === null) return null;
  const { inbound, outbound } = splitRoute(route);
  if (outbound === "api" || inbound === "api") return null;
  const sourceIp = (source as string).replace(/^\[|\]$/g, "");
  const time = new Date(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  ).getTime();
  return {
    tsMs: Number.isNaN(time) ? null : time,
    sourceIp,
    host,
    destPort: Number(port),
    inboundTag: inbound,
    outboundTag: outbound,
    account: email === undefined ? null : email.toLowerCase(),
  };
}

/** `[in -> out]`, `[in >> out]` (older Xray) or `[out]` (V2Ray 4.x names only the outbound). */
function splitRoute(route: string | undefined): {
  inbound: string | null;
  outbound: string | null;
} {
  if (route === undefined || route.trim() === "") return { inbound: null, outbound: null };
  const parts = route.split(/\s*(?:->|>>)\s*/);
  if (parts.length >= 2) return { inbound: parts[0] || null, outbound: parts[1] || null };
  return { inbound: null, outbound: route.trim() };
}
