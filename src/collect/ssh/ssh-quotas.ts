/**
 * The kernel side of SSH quota enforcement: each limited account's quota object (`q_<user>`) in
 * kuota's nft table, holding what is left of its limit and referenced by both directions of its
 * sessions, and the reader of the NFLOG group its drop rule logs to. When a quota runs out, the
 * kernel drops the account's packets; this part finds the account from a dropped packet's
 * addresses (or, with no NFLOG reader, from the quota objects at each poll), has its counters read
 * into the store and reports it once.
 *
 * The quota counts the same packets as the account's counters (its drop rule comes first), so it
 * never drifts from the stored usage. It is set again (`over = counted + limit - usage`) when a
 * limit changes and rebuilt with the table after a flush. The session map itself belongs to the
 * collector, which this part asks through {@link QuotaHost}.
 */
import { OperatorError } from "../../core/errors.js";
import type { Logger } from "../../core/log.js";
import type { Store } from "../../store/store.js";
import { type SessionKey } from "./nft-ruleset.js";
import { QuotaNotices, type DroppedPacket } from "./quota-notices.js";
import type { AccountUsage, SshCountingTable } from "./ssh-table.js";

/** A session the kernel maps to an account; `quota`: it also counts against the quota object. */
export type MappedSession = SessionKey & { user: string; quota?: boolean };

/** What the quota part needs of the SSH collector. */
export interface QuotaHost {
  /** The account's mapped sessions; their `quota` flag is set here. */
  sessionsOf(user: string): MappedSession[];
  /** The account a mapped session belongs to. */
  userAt(key: SessionKey): string | undefined;
  /** Accounts SSH accounting counts, with their limit (bytes; null: unlimited). */
  managed(): Promise<Map<string, number | null>>;
  /** Stores the counters' growth of these accounts (already inside the collector's lock). */
  apply(usage: AccountUsage, only: ReadonlySet<string>): Promise<void>;
  /** Reads these accounts' counters into the store (takes the collector's lock). */
  pollAccounts(names: readonly string[]): Promise<void>;
}

export interface SshQuotaOptions {
  table: SshCountingTable;
  store: Store;
  log: Logger;
  sshPorts: readonly number[];
  /** NFLOG group of quota drops (KUOTA_QUOTA_NFLOG_GROUP). */
  group: number;
  /** An account's quota ran out; its counters were read into the store just before. */
  onQuotaOver?: (user: string) => void;
  host: QuotaHost;
}

export class SshQuotas {
  readonly #opts: SshQuotaOptions;
  readonly #log: Logger;
  /** Accounts with a kernel quota object → the limit (bytes) it was last set for. */
  readonly #limits = new Map<string, number>();
  /** Accounts whose quota ran out and were reported to `onQuotaOver`. */
  readonly #over = new Set<string>();
  #notices: QuotaNotices | null = null;

  constructor(options: SshQuotaOptions) {
    this.#opts = options;
    this.#log = options.log;
  }

  /** The limit the account's quota object was last set for; undefined when it has none. */
  limitSetFor(user: string): number | undefined {
    return this.#limits.get(user);
  }

  /**
   * Starts the NFLOG reader of quota drops. Without it (no tcpdump, group taken) the kernel still
   * cuts, and over quotas are found by reading the quota objects at each regular poll.
   */
  async start(): Promise<void> {
    const notices = new QuotaNotices({
      group: this.#opts.group,
      onDrop: (packet) => this.dropped(packet),
      onExit: (detail) => {
        this.#notices = null;
        this.#log.warn(
          { detail },
          "the quota NFLOG reader stopped; over quotas are found at each poll",
        );
      },
    });
    try {
      await notices.start();
      this.#notices = notices;
    } catch (err) {
      if (!(err instanceof OperatorError)) throw err;
      this.#log.warn(
        { hint: err.hint },
        `SSH quota notices are off (${err.message}); over quotas are found at each poll`,
      );
    }
  }

  async stop(): Promise<void> {
    await this.#notices?.stop();
  }

  /** The account's counters are gone on purpose (deletion): its quota state goes with them. */
  forget(user: string): void {
    this.#limits.delete(user);
    this.#over.delete(user);
  }

  /** The table was lost (flush, reboot): every quota is set again from the store. */
  clear(): void {
    this.#limits.clear();
  }

  /** After a full poll with no NFLOG reader: reports accounts whose quota ran out. */
  async checkPolled(): Promise<void> {
    if (this.#notices !== null || this.#limits.size === 0) return;
    for (const [user, q] of await this.#opts.table.readQuotas())
      if (q.used >= q.bytes && this.#limits.has(user)) this.#reportOver(user, "poll");
  }

  /**
   * Sets the quota objects of `only` (null: every account) to their limits: created for limited
   * accounts with sessions, changed when the limit changed, removed when the limit went. The
   * counters and quotas come from one kernel dump, so `over = counted + limit - usage` is exact
   * at that instant; redeclaring a quota keeps what it counted, so bytes passing until the nft
   * run count too. Runs inside the collector's lock.
   *
   * Known shortcoming: on kernels older than 5.3 the quota is recreated instead (see
   * SshCountingTable.setQuota), and bytes passing between its read-back and the new object (one
   * nft run, a few ms) let the account over by as much.
   */
  async sync(only: ReadonlySet<string> | null): Promise<void> {
    const { table, store, host } = this.#opts;
    const managed = await host.managed();
    const kernel = await table.readQuotas();
    const due: string[] = [];
    for (const user of new Set([...managed.keys(), ...kernel.keys(), ...this.#limits.keys()])) {
      if (only !== null && !only.has(user)) continue;
      const limit = managed.get(user) ?? null;
      if (limit === null) {
        if (!kernel.has(user) && !this.#limits.has(user)) continue;
        const sessions = host.sessionsOf(user);
        await table.removeQuota(user, sessions);
        for (const m of sessions) m.quota = false;
        this.#limits.delete(user);
        this.#over.delete(user);
        this.#log.debug({ user }, "SSH quota removed");
      } else if (this.#limits.get(user) !== limit || !kernel.has(user)) {
        if (kernel.has(user) || host.sessionsOf(user).length > 0 || only !== null) due.push(user);
      }
    }
    if (due.length === 0) return;
    // Counters and quotas from one kernel dump: `counted + limit - usage` then holds exactly what
    // is left, even at full speed (two separate reads let ~200 KB through at 20 MB/s).
    const snapshot = await table.readSnapshot();
    await host.apply(snapshot.usage, new Set(due));
    for (const user of due) {
      const account = await store.getAccount(user);
      const limit = managed.get(user);
      if (!account || limit === null || limit === undefined) continue;
      const usage = account.usage.uploadBytes + account.usage.downloadBytes;
      const counted = snapshot.quotas.get(user)?.used ?? 0;
      const over = Math.max(1, counted + limit - usage);
      const sessions = host.sessionsOf(user);
      await table.setQuota(
        user,
        over,
        sessions.filter((m) => m.quota === true),
      );
      for (const m of sessions.filter((m) => m.quota !== true)) {
        await table.quotaSession(m, user);
        m.quota = true;
      }
      this.#limits.set(user, limit);
      if (usage < limit) this.#over.delete(user);
      this.#log.debug(
        { user, limitBytes: limit, usedBytes: usage, bytes: over - counted, counted },
        "SSH quota set",
      );
    }
  }

  /**
   * A packet the kernel dropped for an over quota (from the NFLOG reader): find its session, in
   * either direction, and report the account once.
   */
  dropped(packet: DroppedPacket): void {
    const clientSide = this.#opts.sshPorts.includes(packet.dstPort)
      ? { ip: packet.srcIp, port: packet.srcPort }
      : { ip: packet.dstIp, port: packet.dstPort };
    const user = this.#opts.host.userAt(clientSide);
    if (user === undefined) {
      this.#log.debug(clientSide, "quota drop of a session not mapped here");
      return;
    }
    this.#reportOver(user, "nflog");
  }

  #reportOver(user: string, via: string): void {
    if (this.#over.has(user)) return;
    this.#over.add(user);
    this.#log.info({ user, via }, "kernel quota ran out: the account's packets are dropped");
    // the store gets the final figures before enforcement reads them
    void this.#opts.host
      .pollAccounts([user])
      .catch((err: unknown) => this.#log.warn({ err, user }, "SSH read before the cut failed"))
      .then(() => this.#opts.onQuotaOver?.(user));
  }
}
