/**
 * The host-capture part of kuota's nft table: one base chain whose single rule sends the first
 * packets of each new connection on the capture ports to an NFLOG group, counting them in a named
 * counter (rule counter − records received = loss).
 *
 * Stays within nft 0.9.3's grammar (Ubuntu 20.04): no `typeof`, no chain named `in`/`out`;
 * `ct original packets 1-8` and `counter name` exist there (checked on 1.0.6 only; 0.9.3 is
 * assumed from its grammar). The table is shared: this file owns only the names below and never
 * flushes or deletes the table.
 */
import { TABLE } from "../collect/ssh/nft-ruleset.js";

export { TABLE };

/** Objects in {@link TABLE} owned by host capture. */
export const CAPTURE_OBJECTS = {
  chain: "capture_in",
  counter: "capture_seen",
} as const;

/** Just before the standard filter (0): packets are logged before another table drops them. */
export const CAPTURE_CHAIN_PRIORITY = -5;

/**
 * Client packets of a connection logged, counting from its SYN. A Chromium ClientHello of ~2 KB
 * takes 2 segments at MTU 1500 and 4 at MSS 536; 8 leaves headroom for the handshake's ACK.
 */
export const CAPTURE_PACKETS = 8;

/** Bytes of each packet copied to userspace: a whole segment at MTU 1500 and then some. */
export const CAPTURE_SNAPLEN = 4096;

/**
 * The idempotent script that creates (or keeps) the counter and chain and replaces the chain's
 * rule. The counter keeps its kernel value when it exists. Throws TypeError on a bad port/group.
 */
export function captureTableScript(ports: readonly number[], nflogGroup: number): string {
  if (ports.length === 0) throw new TypeError("at least one capture port is needed");
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`not a TCP port: ${port}`);
    }
  }
  if (!Number.isInteger(nflogGroup) || nflogGroup < 0 || nflogGroup > 65535) {
    throw new TypeError(`not an NFLOG group: ${nflogGroup}`);
  }
  const { chain, counter } = CAPTURE_OBJECTS;
  return [
    `table ${TABLE} {`,
    `  counter ${counter} { }`,
    `  chain ${chain} { type filter hook input priority ${CAPTURE_CHAIN_PRIORITY}; policy accept; }`,
    `}`,
    `flush chain ${TABLE} ${chain}`,
    `add rule ${TABLE} ${chain} tcp dport { ${[...new Set(ports)].join(", ")} }` +
      ` ct original packets 1-${CAPTURE_PACKETS} counter name ${counter}` +
      ` log group ${nflogGroup} snaplen ${CAPTURE_SNAPLEN}`,
    "",
  ].join("\n");
}

/** Removes the capture chain and counter (CAPTURE_ENABLED=false); the table stays. */
export function removeCaptureScript(): string {
  const { chain, counter } = CAPTURE_OBJECTS;
  return `delete chain ${TABLE} ${chain}\ndelete counter ${TABLE} ${counter}\n`;
}
