import { isIP } from "node:net";
import { Nft, isNoSuchObject, type QuotaValue } from "./nft.js";
import {
  DEFAULT_QUOTA_NFLOG_GROUP,
  SSH_OBJECTS,
  TABLE,
  addSessionQuotaScript,
  addSessionScript,
  counterNames,
  deleteAccountScript,
  deleteQuotaScript,
  deleteSessionQuotaScript,
  deleteSessionScript,
  ensureTableScript,
  parseCounterName,
  parseQuotaName,
  quotaName,
  quotaScript,
  type AccountCounters,
  type CounterValue,
  type SessionKey,
} from "./nft-ruleset.js";

/** Per-account totals read from the kernel, bytes and packets per direction. */
export type AccountUsage = Map<string, AccountCounters>;

/**
 * The SSH part of `table inet kuota`: creates it, maps sessions to accounts, reads the counters.
 * One instance per worker; calls are not serialised here, the caller runs them one at a time.
 */
export class SshCountingTable {
  constructor(
    readonly nft: Nft,
    /** TCP ports the SSH daemons (and local proxies' targets) listen on. */
    readonly sshPorts: readonly number[],
    /** NFLOG group of quota drops (KUOTA_QUOTA_NFLOG_GROUP). */
    readonly quotaGroup: number = DEFAULT_QUOTA_NFLOG_GROUP,
  ) {}

  /**
   * Creates the table, maps, port set and chains if missing and refreshes the rules. Counters in
   * `stored` that the kernel lacks (after a reboot or `nft flush ruleset`) are recreated with the
   * stored values; counters the kernel has keep their live values. Safe to call at any time.
   */
  async ensure(stored: ReadonlyMap<string, AccountCounters> = new Map()): Promise<void> {
    const live = await this.nft.readCounters(TABLE);
    const missing = new Map<string, AccountCounters>();
    for (const [user, values] of stored) {
      const names = counterNames(user);
      if (!live.has(names.up) || !live.has(names.dn)) missing.set(user, values);
    }
    await this.nft.run(ensureTableScript(this.sshPorts, missing, this.quotaGroup));
  }

  /**
   * Sends the packets of one connection to the account's counters, replacing any older mapping of
   * the same address and port. The account's counters are created at zero if missing. With
   * `quota`, the connection also counts against the account's quota object, which must exist.
   */
  async mapSession(key: SessionKey, user: string, quota = false): Promise<void> {
    await this.unmapSession(key);
    await this.nft.run(addSessionScript(key, user, quota));
  }

  /**
   * Stops counting one connection. A key that is not mapped is not an error. Its quota element
   * goes too, which costs one more nft run; `quota: false` skips it when the caller knows there
   * is none.
   */
  async unmapSession(key: SessionKey, quota = true): Promise<void> {
    if (quota) {
      await this.nft.run(deleteSessionQuotaScript(key)).catch((err: unknown) => {
        if (!isNoSuchObject(err)) throw err;
      });
    }
    try {
      await this.nft.run(deleteSessionScript(key));
    } catch (err) {
      if (!isNoSuchObject(err)) throw err;
      // one direction may survive alone if an earlier run was interrupted: retry one by one
      for (const line of deleteSessionScript(key).trim().split("\n")) {
        await this.nft.run(line).catch((e: unknown) => {
          if (!isNoSuchObject(e)) throw e;
        });
      }
    }
  }

  /** Every mapped connection and the account it counts for, read from the four maps. */
  mappedSessions(): Promise<Array<SessionKey & { user: string }>> {
    return this.readMaps([SSH_OBJECTS.up4, SSH_OBJECTS.up6]);
  }

  /** Every session sent to a quota object, with the quota's account, read from the two maps. */
  quotaSessions(): Promise<Array<SessionKey & { user: string }>> {
    return this.readMaps([SSH_OBJECTS.quota4, SSH_OBJECTS.quota6], parseQuotaName);
  }

  /** The elements of session maps (a map not created yet has none). */
  private async readMaps(
    maps: string[],
    ownerOf?: (value: string) => string | null,
  ): Promise<Array<SessionKey & { user: string }>> {
    const sessions: Array<SessionKey & { user: string }> = [];
    for (const map of maps) {
      let listing: unknown;
      try {
        listing = await this.nft.listJson(["map", ...TABLE.split(" "), map]);
      } catch (err) {
        if (isNoSuchObject(err)) continue;
        throw err;
      }
      sessions.push(...mapElements(listing, ownerOf));
    }
    return sessions;
  }

  /** Sends an already mapped session to the account's quota object too. */
  async quotaSession(key: SessionKey, user: string): Promise<void> {
    await this.nft.run(addSessionQuotaScript(key, user));
  }

  /**
   * Unmaps the account's sessions and deletes its counters and quota; their last values are lost.
   */
  async deleteAccount(user: string): Promise<void> {
    for (const session of await this.mappedSessions()) {
      if (session.user === user) await this.unmapSession(session);
    }
    for (const script of [deleteAccountScript(user), deleteQuotaScript(user)]) {
      try {
        await this.nft.run(script);
      } catch (err) {
        if (!isNoSuchObject(err)) throw err;
      }
    }
  }

  /** Every account's quota object as the kernel holds it, by account name. */
  async readQuotas(): Promise<Map<string, QuotaValue>> {
    const quotas = new Map<string, QuotaValue>();
    for (const [name, value] of await this.nft.readQuotas(TABLE)) {
      const user = parseQuotaName(name);
      if (user !== null) quotas.set(user, value);
    }
    return quotas;
  }

  /**
   * Creates the account's quota object allowing `overBytes`, or changes what an existing one
   * allows, keeping what it counted. Reads it back: a kernel older than 5.3 ignores the change
   * of an existing object, and the object is then replaced (its sessions' elements with it, in
   * one transaction), losing what it counted since `sessions` were mapped to it.
   * @param sessions the account's mapped sessions, needed only for that replacement
   */
  async setQuota(user: string, overBytes: number, sessions: readonly SessionKey[]): Promise<void> {
    await this.nft.run(quotaScript(user, overBytes));
    const now = (await this.nft.readQuotas(TABLE)).get(quotaName(user));
    if (now === undefined || now.bytes === overBytes) return;
    const lines = [
      ...sessions.map((s) => deleteSessionQuotaScript(s)),
      deleteQuotaScript(user),
      quotaScript(user, Math.max(1, overBytes - now.used)),
      ...sessions.map((s) => addSessionQuotaScript(s, user)),
    ];
    await this.nft.run(lines.join(""));
  }

  /** Unmaps the quota of the account's sessions and deletes the quota object (limit removed). */
  async removeQuota(user: string, sessions: readonly SessionKey[]): Promise<void> {
    for (const session of sessions) {
      await this.nft.run(deleteSessionQuotaScript(session)).catch((err: unknown) => {
        if (!isNoSuchObject(err)) throw err;
      });
    }
    await this.nft.run(deleteQuotaScript(user)).catch((err: unknown) => {
      if (!isNoSuchObject(err)) throw err;
    });
  }

  /** Absolute per-account totals as the kernel holds them now. */
  async readUsage(): Promise<AccountUsage> {
    return usageOf(await this.nft.readCounters(TABLE));
  }

  /**
   * Per-account totals and quota objects from one kernel dump, so that "counted by the quota"
   * and "counted by the counters" describe the same instant (quota re-sync, see the collector).
   */
  async readSnapshot(): Promise<{ usage: AccountUsage; quotas: Map<string, QuotaValue> }> {
    const { counters, quotas } = await this.nft.readCountersAndQuotas(TABLE);
    const byUser = new Map<string, QuotaValue>();
    for (const [name, value] of quotas) {
      const user = parseQuotaName(name);
      if (user !== null) byUser.set(user, value);
    }
    return { usage: usageOf(counters), quotas: byUser };
  }
}

/** Groups named counters into per-account up/down totals; counters not made here are skipped. */
function usageOf(counters: ReadonlyMap<string, CounterValue>): AccountUsage {
  const usage: AccountUsage = new Map();
  for (const [name, value] of counters) {
    const owner = parseCounterName(name);
    if (!owner) continue;
    let account = usage.get(owner.user);
    if (!account) {
      account = { up: { packets: 0, bytes: 0 }, dn: { packets: 0, bytes: 0 } };
      usage.set(owner.user, account);
    }
    account[owner.direction] = value;
  }
  return usage;
}

/**
 * Elements of an `nft -j list map` answer whose value belongs to an account (by default its up
 * counter; `ownerOf` reads other values, e.g. quota names). Keys come as
 * `{"concat": [ip, port]}`; a value is the counter's name.
 */
function mapElements(
  listing: unknown,
  ownerOf: (value: string) => string | null = (v) => parseCounterName(v)?.user ?? null,
): Array<SessionKey & { user: string }> {
  const result: Array<SessionKey & { user: string }> = [];
  const items = (listing as { nftables?: unknown[] }).nftables ?? [];
  for (const item of items) {
    const elem = (item as { map?: { elem?: unknown[] } }).map?.elem;
    if (!Array.isArray(elem)) continue;
    for (const pair of elem) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const concat = (pair[0] as { concat?: unknown[] }).concat;
      const owner = typeof pair[1] === "string" ? ownerOf(pair[1]) : null;
      if (owner === null || !Array.isArray(concat)) continue;
      const [ip, port] = concat;
      if (typeof ip === "string" && isIP(ip) && typeof port === "number") {
        result.push({ ip, port, user: owner });
      }
    }
  }
  return result;
}
