import { isIP } from "node:net";
import { ACCOUNT_NAME } from "./login-line.js";

/**
 * nft scripts for the SSH part of kuota's own table. Every script stays within nft 0.9.3's grammar
 * (Ubuntu 20.04): no `typeof`, no chains named `in`/`out`, counter values only inside a table block.
 * 0.9.3 cannot list a namespace holding a rule it cannot parse, so this matters on every host.
 *
 * The table is shared with other kuota features; this file owns only the names below and never
 * flushes or deletes the table.
 */

/** kuota's table: `table inet kuota`. */
export const TABLE = "inet kuota";

/** Objects in {@link TABLE} owned by SSH accounting. */
export const SSH_OBJECTS = {
  ports: "ssh_ports",
  inputChain: "ssh_acct_in",
  outputChain: "ssh_acct_out",
  up4: "ssh_up4",
  dn4: "ssh_dn4",
  up6: "ssh_up6",
  dn6: "ssh_dn6",
  /** Session (client ip . port) → the account's quota object; used by both chains. */
  quota4: "ssh_q4",
  quota6: "ssh_q6",
} as const;

/** NFLOG group told when an account's kernel quota drops a packet: KUOTA_QUOTA_NFLOG_GROUP. */
export const DEFAULT_QUOTA_NFLOG_GROUP = 42;

/** Prefix of the NFLOG records of quota drops (one per table; the session is in the packet). */
export const QUOTA_LOG_PREFIX = "kuota-quota";

/**
 * Bytes of a dropped packet copied to the worker: an IPv6 header and a TCP header with every
 * option (40 + 60) fit, which is all it reads (the client's address and port).
 */
export const QUOTA_SNAPLEN = 128;

/**
 * Hook priority of the SSH chains: just before the standard filter (0), so packets are counted
 * before another table's filter drops them, and after conntrack/NAT.
 */
export const SSH_CHAIN_PRIORITY = -5;

/** Packets and bytes of one nft counter, as the kernel keeps them. */
export interface CounterValue {
  packets: number;
  bytes: number;
}

/** Stored totals of one account, used to recreate its counters after a reboot or flush. */
export interface AccountCounters {
  up: CounterValue;
  dn: CounterValue;
}

/** One SSH connection as nft sees it: the client's address and TCP port. */
export interface SessionKey {
  ip: string;
  port: number;
}

/**
 * Names of an account's two counters: `u_<user>_up` (client → server) and `u_<user>_dn`.
 * nft's bare-word grammar (0.9.3 and later) allows `.` and `-` after the first letter, so every
 * valid account name maps to itself. Throws TypeError for names that are not account names.
 */
export function counterNames(user: string): { up: string; dn: string } {
  if (!ACCOUNT_NAME.test(user)) throw new TypeError(`not an account name: ${JSON.stringify(user)}`);
  return { up: `u_${user}_up`, dn: `u_${user}_dn` };
}

/**
 * Name of an account's kernel quota object: `q_<user>`. The quota is what the account has left of
 * its limit, counted from both directions of every mapped session; see {@link quotaScript}.
 */
export function quotaName(user: string): string {
  if (!ACCOUNT_NAME.test(user)) throw new TypeError(`not an account name: ${JSON.stringify(user)}`);
  return `q_${user}`;
}

/** The account a quota object belongs to, or null for objects not made here. */
export function parseQuotaName(name: string): string | null {
  const match = /^q_(.+)$/.exec(name);
  return match?.[1] && ACCOUNT_NAME.test(match[1]) ? match[1] : null;
}

/** The account and direction a counter name belongs to, or null for counters not made here. */
export function parseCounterName(name: string): { user: string; direction: "up" | "dn" } | null {
  const match = /^u_(.+)_(up|dn)$/.exec(name);
  if (!match?.[1] || !ACCOUNT_NAME.test(match[1])) return null;
  return { user: match[1], direction: match[2] === "up" ? "up" : "dn" };
}

/**
 * The script that makes sure the SSH part of the table exists and counts `sshPorts`. Idempotent:
 * the table, maps and chains are declared (kept if present), the port set and the two chains are
 * refilled, map elements stay. `missingCounters` are declared with their stored values; a counter
 * that already exists keeps its kernel value, so pass only the ones the kernel lacks.
 */
export function ensureTableScript(
  sshPorts: readonly number[],
  missingCounters: ReadonlyMap<string, AccountCounters> = new Map(),
  quotaGroup: number = DEFAULT_QUOTA_NFLOG_GROUP,
): string {
  if (sshPorts.length === 0) throw new TypeError("at least one SSH port is needed");
  for (const port of sshPorts) checkPort(port);
  if (!Number.isInteger(quotaGroup) || quotaGroup < 0 || quotaGroup > 65535) {
    throw new TypeError(`not an NFLOG group: ${quotaGroup}`);
  }
  // Over quota: tell the worker, then drop. First in each chain, so the counters below count
  // exactly the packets the quota let through (the quota and the counters never drift apart).
  // FIN and RST pass: when the account is cut (ss -K), the client must learn its tunnel is gone.
  const endsPass = "tcp flags & (fin | rst) == 0";
  const overQuota = `log prefix "${QUOTA_LOG_PREFIX}" group ${quotaGroup} snaplen ${QUOTA_SNAPLEN} drop`;
  const o = SSH_OBJECTS;
  const lines = [`table ${TABLE} {`];
  for (const [user, values] of missingCounters) {
    const names = counterNames(user);
    lines.push(`  counter ${names.up} { ${counterBody(values.up)} }`);
    lines.push(`  counter ${names.dn} { ${counterBody(values.dn)} }`);
  }
  lines.push(
    `  set ${o.ports} { type inet_service; }`,
    `  map ${o.up4} { type ipv4_addr . inet_service : counter; }`,
    `  map ${o.dn4} { type ipv4_addr . inet_service : counter; }`,
    `  map ${o.up6} { type ipv6_addr . inet_service : counter; }`,
    `  map ${o.dn6} { type ipv6_addr . inet_service : counter; }`,
    `  map ${o.quota4} { type ipv4_addr . inet_service : quota; }`,
    `  map ${o.quota6} { type ipv6_addr . inet_service : quota; }`,
    `  chain ${o.inputChain} { type filter hook input priority ${SSH_CHAIN_PRIORITY}; policy accept; }`,
    `  chain ${o.outputChain} { type filter hook output priority ${SSH_CHAIN_PRIORITY}; policy accept; }`,
    `}`,
    `flush set ${TABLE} ${o.ports}`,
    `add element ${TABLE} ${o.ports} { ${[...new Set(sshPorts)].join(", ")} }`,
    `flush chain ${TABLE} ${o.inputChain}`,
    `add rule ${TABLE} ${o.inputChain} tcp dport @${o.ports} ${endsPass} quota name ip saddr . tcp sport map @${o.quota4} ${overQuota}`,
    `add rule ${TABLE} ${o.inputChain} tcp dport @${o.ports} ${endsPass} quota name ip6 saddr . tcp sport map @${o.quota6} ${overQuota}`,
    // upload: client → daemon, keyed by the packet's source
    `add rule ${TABLE} ${o.inputChain} tcp dport @${o.ports} counter name ip saddr . tcp sport map @${o.up4}`,
    `add rule ${TABLE} ${o.inputChain} tcp dport @${o.ports} counter name ip6 saddr . tcp sport map @${o.up6}`,
    `flush chain ${TABLE} ${o.outputChain}`,
    `add rule ${TABLE} ${o.outputChain} tcp sport @${o.ports} ${endsPass} quota name ip daddr . tcp dport map @${o.quota4} ${overQuota}`,
    `add rule ${TABLE} ${o.outputChain} tcp sport @${o.ports} ${endsPass} quota name ip6 daddr . tcp dport map @${o.quota6} ${overQuota}`,
    // download: daemon → client, keyed by the packet's destination
    `add rule ${TABLE} ${o.outputChain} tcp sport @${o.ports} counter name ip daddr . tcp dport map @${o.dn4}`,
    `add rule ${TABLE} ${o.outputChain} tcp sport @${o.ports} counter name ip6 daddr . tcp dport map @${o.dn6}`,
  );
  return lines.join("\n") + "\n";
}

/**
 * Step 1 of mapping a session: remove whatever the key pointed to before (ports are reused,
 * especially on loopback). Run on its own and ignore "No such file or directory": one missing
 * element would abort a whole nft transaction.
 */
export function deleteSessionScript(key: SessionKey): string {
  const { up, dn } = mapsFor(key.ip);
  const element = elementKey(key);
  return `delete element ${TABLE} ${up} { ${element} }\ndelete element ${TABLE} ${dn} { ${element} }\n`;
}

/** Removes a session's quota element (run on its own; "No such file or directory" if absent). */
export function deleteSessionQuotaScript(key: SessionKey): string {
  return `delete element ${TABLE} ${mapsFor(key.ip).quota} { ${elementKey(key)} }\n`;
}

/** Sends an already mapped session to the account's quota object too. */
export function addSessionQuotaScript(key: SessionKey, user: string): string {
  return `add element ${TABLE} ${mapsFor(key.ip).quota} { ${elementKey(key)} : "${quotaName(user)}" }\n`;
}

/**
 * Step 2 of mapping a session: the account's counters (kept with their values if present) and the
 * two map elements, and with `quota` the element sending it to the account's quota object (which
 * must exist: {@link quotaScript}). Fails with "File exists" if the key is still mapped; run
 * step 1 first.
 */
export function addSessionScript(key: SessionKey, user: string, quota = false): string {
  const { up, dn } = mapsFor(key.ip);
  const names = counterNames(user);
  const element = elementKey(key);
  return (
    [
      `add counter ${TABLE} ${names.up}`,
      `add counter ${TABLE} ${names.dn}`,
      `add element ${TABLE} ${up} { ${element} : "${names.up}" }`,
      `add element ${TABLE} ${dn} { ${element} : "${names.dn}" }`,
      "",
    ].join("\n") + (quota ? addSessionQuotaScript(key, user) : "")
  );
}

/**
 * Creates the account's quota object, or changes the bytes it allows while keeping what it has
 * counted (the kernel updates a stateful object in place since Linux 5.3; on older kernels the
 * declaration of an existing object is a no-op, see `SshCountingTable.setQuota`). Declared in a
 * table block, the form nft 0.9.3 accepts for object values. `overBytes` is at least 1 (the
 * kernel refuses 0): a quota declared with N drops from the packet that takes it to N bytes.
 */
export function quotaScript(user: string, overBytes: number): string {
  if (!Number.isSafeInteger(overBytes) || overBytes < 1) {
    throw new TypeError(`not a quota size: ${overBytes}`);
  }
  return `table ${TABLE} {\n  quota ${quotaName(user)} { over ${overBytes} bytes }\n}\n`;
}

/** Deletes an account's quota object; its sessions' quota elements must be gone (same script is fine). */
export function deleteQuotaScript(user: string): string {
  return `delete quota ${TABLE} ${quotaName(user)}\n`;
}

/**
 * Deletes an account's two counters. The kernel refuses ("Device or resource busy") while a map
 * element still points at them: unmap the account's sessions first.
 */
export function deleteAccountScript(user: string): string {
  const names = counterNames(user);
  return `delete counter ${TABLE} ${names.up}\ndelete counter ${TABLE} ${names.dn}\n`;
}

function mapsFor(ip: string): { up: string; dn: string; quota: string } {
  const version = isIP(ip);
  const o = SSH_OBJECTS;
  if (version === 4) return { up: o.up4, dn: o.dn4, quota: o.quota4 };
  if (version === 6) return { up: o.up6, dn: o.dn6, quota: o.quota6 };
  throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
}

function elementKey(key: SessionKey): string {
  checkPort(key.port);
  return `${key.ip} . ${key.port}`;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`not a TCP port: ${port}`);
  }
}

function counterBody(value: CounterValue): string {
  for (const n of [value.packets, value.bytes]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`not a counter value: ${n}`);
  }
  return `packets ${value.packets} bytes ${value.bytes}`;
}
