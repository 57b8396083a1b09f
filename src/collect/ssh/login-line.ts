import { isIP } from "node:net";

/** The SSH daemons whose login lines kuota reads. */
export type SshDaemon = "openssh" | "dropbear";

/** One login or logout of an SSH account, as the daemon logged it. */
export interface LoginLine {
  daemon: SshDaemon;
  event: "login" | "logout";
  /** Account name, always matching {@link ACCOUNT_NAME}. */
  user: string;
  /** Client address as seen by the daemon; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is given as IPv4. */
  ip: string;
  /** Client TCP port, 1–65535. */
  port: number;
  /** Process that logged the line, when the prefix names it (OpenSSH's monitor, Dropbear's child). */
  pid?: number;
}

/**
 * Account names kuota manages. Anything else in a login line (spaces, quotes, shell syntax,
 * upper case, over 32 characters) makes the whole line unusable: it is never guessed at.
 */
export const ACCOUNT_NAME = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** Longer lines are not login lines of either daemon; refusing them early bounds regex work. */
const MAX_LINE_LENGTH = 4096;

// Prefixes: `Jan  2 03:04:05 host prog[pid]: `, `2024-01-02T03:04:05.123+00:00 host prog[pid]: `
// (rsyslog, journalctl -o short-iso) and Dropbear's own stderr `[pid] Jan 02 03:04:05 `.
const BSD_TIME = String.raw`[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d`;
const ISO_TIME = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?`;
const SYSLOG_PREFIX = new RegExp(
  String.raw`^(?:${BSD_TIME}|${ISO_TIME}) \S{1,255} (sshd|sshd-session|dropbear)(?:\[(\d{1,10})\])?: `,
);
const DROPBEAR_STDERR_PREFIX = new RegExp(String.raw`^\[(\d{1,10})\] ${BSD_TIME} `);

// Message bodies. The user group is deliberately loose here and checked against ACCOUNT_NAME after,
// so a hostile name never shifts where the address is read from.
const OPENSSH_LOGIN =
  /^Accepted [a-z0-9/@.-]{1,64} for (\S{1,64}) from ([0-9A-Fa-f:.]{2,64}) port (\d{1,5}) ssh2(?::.*)?$/;
const OPENSSH_LOGOUT =
  /^(?:Disconnected from|Connection closed by|Connection reset by|Timeout, client not responding from) user (\S{1,64}) ([0-9A-Fa-f:.]{2,64}) port (\d{1,5})$/;
const DROPBEAR_LOGIN =
  /^(?:Password|Pubkey) auth succeeded for '([^']{1,64})'(?: with .{1,512})? from (\[[0-9A-Fa-f:.]{2,64}\]|[0-9A-Fa-f:.]{2,64}):(\d{1,5})$/;
const DROPBEAR_LOGOUT =
  /^Exit \(([^)]{1,64})\) from <(\[[0-9A-Fa-f:.]{2,64}\]|[0-9A-Fa-f:.]{2,64}):(\d{1,5})>: .*$/;

/**
 * Reads one log line of OpenSSH or Dropbear and returns the login or logout it records, or null
 * for every other line (failed logins, pre-auth exits, malformed or truncated text, names that are
 * not valid account names).
 *
 * Accepted shapes: syslog files (BSD or RFC 3339 timestamps), `journalctl -o short-iso`,
 * `journalctl -o json` (the MESSAGE with `_PID` and `SYSLOG_IDENTIFIER`), a bare message as
 * `sshd -E FILE` writes it, and Dropbear's `-E` stderr (`[pid] Mon DD HH:MM:SS message`).
 *
 * Forged lines are a limit of the source, not of this parser: any local user can write to syslog
 * with `logger -t sshd`. The journal's `_PID`/`_COMM` fields are trustworthy; a file is not.
 */
export function parseLoginLine(line: string): LoginLine | null {
  if (line.length > MAX_LINE_LENGTH) return null;
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (text.startsWith("{")) return parseJournalJson(text);

  const syslog = SYSLOG_PREFIX.exec(text);
  if (syslog) {
    const daemon: SshDaemon = syslog[1] === "dropbear" ? "dropbear" : "openssh";
    return parseMessage(text.slice(syslog[0].length), daemon, toPid(syslog[2]));
  }
  const dropbear = DROPBEAR_STDERR_PREFIX.exec(text);
  if (dropbear) return parseMessage(text.slice(dropbear[0].length), "dropbear", toPid(dropbear[1]));
  return parseMessage(text, undefined, undefined);
}

/** One `journalctl -o json` record: only the fields kuota reads. */
function parseJournalJson(text: string): LoginLine | null {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof record !== "object" || record === null) return null;
  const fields = record as Record<string, unknown>;
  // journald stores non-UTF-8 messages as byte arrays; no valid login line is one
  const message = fields["MESSAGE"];
  if (typeof message !== "string") return null;
  const identifier = fields["SYSLOG_IDENTIFIER"] ?? fields["_COMM"];
  let daemon: SshDaemon | undefined;
  if (identifier === "dropbear") daemon = "dropbear";
  else if (identifier === "sshd" || identifier === "sshd-session") daemon = "openssh";
  else return null;
  const pid = typeof fields["_PID"] === "string" ? toPid(fields["_PID"]) : undefined;
  return parseMessage(message, daemon, pid);
}

/**
 * Parses the message part. `daemon` is what the prefix said; undefined when there was no prefix,
 * and then the message shape decides.
 */
function parseMessage(
  message: string,
  daemon: SshDaemon | undefined,
  pid: number | undefined,
): LoginLine | null {
  if (daemon !== "dropbear") {
    const login = OPENSSH_LOGIN.exec(message);
    if (login) return build("openssh", "login", login, pid);
    const logout = OPENSSH_LOGOUT.exec(message);
    if (logout) return build("openssh", "logout", logout, pid);
  }
  if (daemon !== "openssh") {
    const login = DROPBEAR_LOGIN.exec(message);
    if (login) return build("dropbear", "login", login, pid);
    const logout = DROPBEAR_LOGOUT.exec(message);
    if (logout) return build("dropbear", "logout", logout, pid);
  }
  return null;
}

function build(
  daemon: SshDaemon,
  event: LoginLine["event"],
  match: RegExpExecArray,
  pid: number | undefined,
): LoginLine | null {
  const [, user, rawIp, rawPort] = match;
  if (user === undefined || rawIp === undefined || rawPort === undefined) return null;
  if (!ACCOUNT_NAME.test(user)) return null;
  const ip = normalizeIp(rawIp);
  const port = Number(rawPort);
  if (ip === null || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  const result: LoginLine = { daemon, event, user, ip, port };
  if (pid !== undefined) result.pid = pid;
  return result;
}

/**
 * Strips Dropbear's brackets, turns an IPv4-mapped IPv6 address into IPv4 (that is how the packets
 * look to nftables) and writes IPv6 in its compressed lower-case form. Null when not an address.
 */
export function normalizeIp(text: string): string | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const version = isIP(bare);
  if (version === 4) return bare;
  if (version !== 6) return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped?.[1] !== undefined && isIP(mapped[1]) === 4) return mapped[1];
  // one spelling per address, so keys from login lines and from `ss` compare equal
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
}

function toPid(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const pid = Number(text);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
