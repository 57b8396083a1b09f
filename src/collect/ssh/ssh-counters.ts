/**
 * SSH counters into the store: the part of SSH accounting that reads kuota's nft counters and
 * stores their growth, and that tells a flushed table from counters deleted on purpose. Session
 * mapping (which connection counts for whom) stays with the collector.
 *
 * The store's baselines are the kernel's absolute byte values, so a counter the kernel lost is
 * recreated with its stored value and never counts anything twice.
 */
import { localDate } from "../../core/time.js";
import type { CounterReading, Store, Usage } from "../../store/store.js";
import { counterNames, type AccountCounters } from "./nft-ruleset.js";
import type { AccountUsage, SshCountingTable } from "./ssh-table.js";

/** Source name of SSH counters in the store. */
export const SSH_SOURCE = "ssh";

/** A full read of the counters, as {@link SshCounters.readAll} reports it. */
export type FullRead = {
  usage: AccountUsage;
  /**
   * Accounts of the last read whose counters all vanished together: the table was flushed or
   * the host rebooted (0 when not).
   */
  lost: number;
  /**
   * Accounts whose counters vanished while others stayed: deleted on purpose (an account
   * deletion), never to be restored.
   */
  gone: string[];
};

export interface SshCountersOptions {
  table: SshCountingTable;
  store: Store;
  onUsage: (changed: Usage[]) => void;
}

export class SshCounters {
  readonly #o: SshCountersOptions;
  /** Accounts seen in the last full read. */
  #counted = new Set<string>();
  /** Whether no session was mapped at the last full read. */
  #idleAtLastRead = false;

  constructor(options: SshCountersOptions) {
    this.#o = options;
  }

  /**
   * Makes sure the table, its chains and the counters exist; counters of `accounts` the kernel
   * lost are recreated with their stored values (packets restart at 0: only bytes are billed).
   */
  async ensure(accounts: Iterable<string>): Promise<void> {
    const baselines = await this.#o.store.counterBaselines(SSH_SOURCE);
    const stored = new Map<string, AccountCounters>();
    for (const user of accounts) {
      const names = counterNames(user);
      const up = baselines.get(names.up);
      const dn = baselines.get(names.dn);
      if (up === undefined && dn === undefined) continue;
      stored.set(user, {
        up: { packets: 0, bytes: up ?? 0 },
        dn: { packets: 0, bytes: dn ?? 0 },
      });
    }
    await this.#o.table.ensure(stored);
  }

  /**
   * Reads every counter; null when the read would find nothing new. Counters move only through
   * mapped sessions: with none mapped now (`idle`) and none at the last read (which took the
   * final bytes of the sessions that ended), the nft spawn is skipped, so idle SSH accounts cost
   * nothing. A flushed table is still noticed by the collector's periodic rebuild.
   */
  async readAll(idle: boolean): Promise<FullRead | null> {
    const skip = idle && this.#idleAtLastRead;
    this.#idleAtLastRead = idle;
    if (skip) return null;
    const usage = await this.#o.table.readUsage();
    const gone = [...this.#counted].filter((user) => !usage.has(user));
    if (gone.length > 0 && gone.length === this.#counted.size)
      return { usage, lost: gone.length, gone: [] };
    return { usage, lost: 0, gone };
  }

  /** Reads every counter, without the bookkeeping of a full read (a few accounts' check). */
  read(): Promise<AccountUsage> {
    return this.#o.table.readUsage();
  }

  /** Remembers which accounts a full read (after any recovery) found. */
  accept(usage: AccountUsage): void {
    this.#counted = new Set(usage.keys());
  }

  /** An account's counters were deleted on purpose: their absence is no loss. */
  forget(user: string): void {
    this.#counted.delete(user);
  }

  /** Stores the growth of counters read from the kernel (`only`: these accounts only). */
  async save(usage: AccountUsage, only: ReadonlySet<string> | null): Promise<void> {
    const readings: CounterReading[] = [];
    for (const [user, counters] of usage) {
      if (only !== null && !only.has(user)) continue;
      const names = counterNames(user);
      readings.push(
        { counter: names.up, account: user, direction: "up", raw: counters.up.bytes },
        { counter: names.dn, account: user, direction: "down", raw: counters.dn.bytes },
      );
    }
    const at = new Date();
    const applied = await this.#o.store.applyCounters({
      source: SSH_SOURCE,
      readings,
      sourceRestarted: false,
      day: localDate(at),
      at: at.toISOString(),
    });
    if (applied.changed.length > 0) this.#o.onUsage(applied.changed);
  }
}
