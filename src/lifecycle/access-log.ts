/**
 * The engine's access log tells which client connection belongs to which account: RemoveUser stops
 * new connections but leaves live ones flowing, so a deletion finds the account's sources here and
 * cuts them with `ss -K`. Lines look like
 * - V2Ray 4.x: `2026/12/03 18:26:09 127.0.0.1:36128 accepted tcp:example.com:443 [direct] email: bob`
 * - Xray: `2026/12/03 18:26:09.123456 from 1.2.3.4:41234 accepted tcp:example.com:443 [vless-in -> direct] email: bob`
 *   (`>>` instead of `->` in some versions, `from tcp:1.2.3.4:41234` in others).
 */
import { open } from "node:fs/promises";
import { normalizeIp } from "../collect/ssh/login-line.js";

/** One accepted connection as the access log records it. */
export type AccessRecord = {
  /** Client address as the engine saw it (IPv4-mapped IPv6 given as IPv4). */
  ip: string;
  port: number;
  /** Inbound tag when the line names it (Xray), else null (V2Ray 4.x names only the outbound). */
  inboundTag: string | null;
  /** Lowercased email, or null when the line has none. */
  email: string | null;
};

const MAX_LINE = 4096;
const ACCEPTED = new RegExp(
  String.raw`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})? (?:from )?(?:(tcp|udp):)?` +
    String.raw`(\[[0-9A-Fa-f:.]{2,64}\]|\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5}) accepted (?:tcp|udp):\S{1,1024}` +
    String.raw` \[([^\]\n]{0,256})\](?: email: (\S{1,256}))?\s*$`,
);

/** Reads one access log line; null for everything but an accepted TCP-sourced connection. */
export function parseAccessLine(line: string): AccessRecord | null {
  if (line.length > MAX_LINE) return null;
  const match = ACCEPTED.exec(line);
  if (!match) return null;
  const [, network, rawIp, rawPort, route, email] = match;
  if (network === "udp" || rawIp === undefined || rawPort === undefined) return null;
  const ip = normalizeIp(rawIp);
  const port = Number(rawPort);
  if (ip === null || port < 1 || port > 65535) return null;
  const arrow = /^\s*(\S+)\s*(?:->|>>)/.exec(route ?? "");
  return {
    ip,
    port,
    inboundTag: arrow?.[1] ?? null,
    email: email === undefined ? null : email.toLowerCase(),
  };
}

/**
 * The client connections of `email` in a stretch of access log. A source address and port is the
 * account's only if the latest line with that source names it: ports are reused, and a later line
 * from the same source belongs to whoever connected last.
 */
export function sourcesOf(text: string, email: string): AccessRecord[] {
  const wanted = email.toLowerCase();
  const latest = new Map<string, AccessRecord>();
  for (const line of text.split("\n")) {
    const record = parseAccessLine(line);
    if (!record) continue;
    const key = `${record.ip} ${record.port}`;
    latest.delete(key); // keep insertion order = order of last appearance
    latest.set(key, record);
  }
  return [...latest.values()].filter((r) => r.email === wanted);
}

/** How much of the log's end is read (bytes): hours of lines on a busy server. */
export const ACCESS_LOG_TAIL_BYTES = 32 * 1024 * 1024;

/**
 * The last `maxBytes` of the access log as text (a cut first line dropped).
 * @throws the fs error (ENOENT when the engine writes no access log there)
 */
export async function readLogTail(path: string, maxBytes = ACCESS_LOG_TAIL_BYTES): Promise<string> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString("utf8");
    return start > 0 ? text.slice(text.indexOf("\n") + 1) : text;
  } finally {
    await handle.close();
  }
}
