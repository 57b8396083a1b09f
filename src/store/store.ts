/**
 * The store: every query kuota makes goes through this interface, so the embedded
 * SQLite store can later be swapped for a shared PostgreSQL one. Methods are async
 * for that reason even though better-sqlite3 answers synchronously.
 */

export const PROTOCOLS = ["ssh", "vmess", "vless", "trojan", "shadowsocks"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Where an account came from: found on the system, or created by kuota. */
export type Origin = "adopted" | "created";

export type Account = {
  name: string;
  protocol: Protocol;
  origin: Origin;
  /** Quota in bytes (upload + download); null means unlimited. */
  limitBytes: number | null;
  /** Expiry as an ISO 8601 instant; null means never. */
  expiresAt: string | null;
  /** active, or locked (disabled by `KUOTA_ON_LIMIT=lock`). */
  state: "active" | "locked";
  /** False while the account is missing from its source (engine config, /etc/passwd). */
  present: boolean;
  createdAt: string;
  updatedAt: string;
};

export type Usage = {
  name: string;
  uploadBytes: number;
  downloadBytes: number;
  /** Local date (YYYY-MM-DD) the daily figures belong to. */
  day: string;
  dayUploadBytes: number;
  dayDownloadBytes: number;
  /** Last time traffic was counted, ISO 8601; null if never. */
  lastSeenAt: string | null;
  updatedAt: string;
};

export type AccountWithUsage = Account & { usage: Usage };

/**
 * A client object taken out of the engine config when its Xray account was locked, as the config
 * held it (secret included), with the tag of the inbound it goes back to on unlock.
 */
export type LockedClient = { inbound: string; client: { [key: string]: unknown } };

/** An account as found by discovery (engine config or /etc/passwd). */
export type DiscoveredAccount = { name: string; protocol: Protocol };

/** One raw counter reading from a source, e.g. `user>>>alice>>>traffic>>>uplink`. */
export type CounterReading = {
  /** Stable counter key within its source. */
  counter: string;
  /** Account the counter belongs to. */
  account: string;
  direction: "up" | "down";
  /** Absolute value as the source reports it (bytes). */
  raw: number;
};

/**
 * A batch of readings from one source (e.g. "xray", "ssh"). When `sourceRestarted`
 * is true the source's counters started again from zero, so raw values are counted
 * whole and every baseline of the source is dropped first.
 */
export type CounterBatch = {
  source: string;
  readings: CounterReading[];
  sourceRestarted: boolean;
  /** Local date (YYYY-MM-DD) the traffic is counted under. */
  day: string;
  at: string;
  /** Collector state written in the same transaction (e.g. the engine uptime mark). */
  state?: Record<string, string>;
};

/** What applying a batch changed: accounts whose usage moved, with their new usage. */
export type AppliedBatch = { changed: Usage[] };

export type DeletionEvent = {
  id: number;
  kind: "deleted" | "locked";
  account: string;
  protocol: Protocol;
  reason: string;
  /** Usage (bytes) and limit at the moment of the event. */
  usedBytes: number;
  limitBytes: number | null;
  at: string;
  ackedAt: string | null;
};

export interface Store {
  /** Registers accounts found on the system; existing ones are marked present. Returns the new names. */
  adoptAccounts(found: DiscoveredAccount[], at: string): Promise<string[]>;
  /**
   * Marks accounts of the given protocols that were not found as absent. Returns their names.
   * Locked accounts are left present: a locked Xray account is out of the engine config on purpose.
   */
  markAbsent(protocols: Protocol[], presentNames: Set<string>, at: string): Promise<string[]>;
  createAccount(
    account: Omit<Account, "createdAt" | "updatedAt" | "present" | "state">,
    at: string,
  ): Promise<void>;
  getAccount(name: string): Promise<AccountWithUsage | null>;
  listAccounts(): Promise<AccountWithUsage[]>;
  setLimit(name: string, limitBytes: number | null, reset: boolean, at: string): Promise<void>;
  /** Sets when the account stops working (ISO 8601 instant), or null for never. */
  setExpiry(name: string, expiresAt: string | null, at: string): Promise<void>;
  removeAccount(name: string): Promise<void>;
  /**
   * Locks or unlocks an account (named apart from `setState`, the collectors' key/value state).
   * Unlocking also forgets the account's locked clients.
   */
  setAccountState(name: string, state: Account["state"], at: string): Promise<void>;
  /** Keeps the engine config clients of an Xray account being locked, for its unlock. */
  saveLockedClients(name: string, clients: LockedClient[]): Promise<void>;
  /** The clients kept by `saveLockedClients`; empty when none. */
  lockedClients(name: string): Promise<LockedClient[]>;

  /** Adds the deltas of a batch of raw counters in one transaction; crash-safe. */
  applyCounters(batch: CounterBatch): Promise<AppliedBatch>;
  /**
   * The last raw value stored for each counter of a source, by counter key: what the source
   * reported at its last applied reading. SSH accounting recreates lost nft counters with them.
   */
  counterBaselines(source: string): Promise<Map<string, number>>;

  /** Small key/value state of the collectors (e.g. the engine's last uptime). */
  getState(key: string): Promise<string | null>;
  setState(key: string, value: string): Promise<void>;

  recordEvent(event: Omit<DeletionEvent, "id" | "ackedAt">): Promise<number>;
  pendingEvents(limit: number): Promise<DeletionEvent[]>;
  /** Marks events delivered; resolves how many were pending. */
  ackEvents(ids: number[], at: string): Promise<number>;

  close(): Promise<void>;
}
