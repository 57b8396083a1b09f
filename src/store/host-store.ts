/**
 * The hosts clients asked for (TLS SNI, HTTP Host, Xray destinations), one row per host. Kept
 * apart from `Store` so host capture owns its queries; the SQLite implementation shares the
 * worker's database handle.
 */

/** Where a host was seen: a ClientHello's SNI, an HTTP request, or Xray's access log. */
export type HostKind = "sni" | "http" | "xray";

/** One sighting to record. Hosts are already normalized (lowercase, no trailing dot). */
export type HostSighting = {
  host: string;
  /** SSH, VMESS, VLESS, TROJAN, SHADOWSOCKS, a configured name, or the port as text. */
  service: string;
  sourceIp: string;
  /** Account name when the source knows it (Xray's `email:`), else null. */
  account: string | null;
  kind: HostKind;
  /** When it was seen (the first time, for several), ISO 8601 instant. */
  at: string;
  /** For several sightings: the last time. Default `at`. */
  lastAt?: string;
  /** How many connections this stands for. Default 1. */
  count?: number;
};

/** A host as stored. Service, source, account and kind are those of its first sighting. */
export type HostRecord = {
  /** Increases with every new host: `afterId` pages through hosts in the order recorded. */
  id: number;
  host: string;
  service: string;
  sourceIp: string;
  /** First known account; filled in by a later sighting when the first had none. */
  account: string | null;
  kind: HostKind;
  count: number;
  firstSeen: string;
  lastSeen: string;
};

export type HostFilter = {
  /** Most rows answered. Default 100. */
  limit?: number;
  /** Only hosts seen at or after this ISO instant. */
  since?: string;
  /** Only hosts of this service (case-insensitive). */
  service?: string;
  /** Only hosts whose name contains this text (case-insensitive). */
  q?: string;
  /** Only hosts recorded after this id, oldest first (for following new hosts). */
  afterId?: number;
};

export interface HostStore {
  /**
   * Records sightings in one transaction: a host not seen before gets a row (`isNew`), a known
   * host gets its count and last-seen time moved. `state` (collector positions, e.g. the access
   * log offset) is written in the same transaction. `beforeCommit` runs inside it with the new
   * hosts; if it throws, nothing is recorded. Results are in input order.
   */
  recordSightings(
    sightings: readonly HostSighting[],
    state?: Record<string, string>,
    beforeCommit?: (added: HostRecord[]) => void,
  ): Promise<{ isNew: boolean }[]>;
  /** Hosts matching `filter`: by last sighting, newest first; with `afterId`, by id ascending. */
  listHosts(filter?: HostFilter): Promise<HostRecord[]>;
  /** How many distinct hosts are recorded. */
  countHosts(): Promise<number>;
}
