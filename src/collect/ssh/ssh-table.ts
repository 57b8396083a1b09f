import { isIP } from "node:net";
import { Nft, isNoSuchObject } from "./nft.js";
import {
  SSH_OBJECTS,
  TABLE,
  addSessionScript,
  counterNames,
  deleteAccountScript,
  deleteSessionScript,
  ensureTableScript,
  parseCounterName,
  type AccountCounters,
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
    await this.nft.run(ensureTableScript(this.sshPorts, missing));
  }

  /**
   * Sends the packets of one connection to the account's counters, replacing any older mapping of
   * the same address and port. The account's counters are created at zero if missing.
   */
  async mapSession(key: SessionKey, user: string): Promise<void> {
    await this.unmapSession(key);
    await this.nft.run(addSessionScript(key, user));
  }

  /** Stops counting one connection. A key that is not mapped is not an error. */
  async unmapSession(key: SessionKey): Promise<void> {
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
  async mappedSessions(): Promise<Array<SessionKey & { user: string }>> {
    const sessions: Array<SessionKey & { user: string }> = [];
    for (const map of [SSH_OBJECTS.up4, SSH_OBJECTS.up6]) {
      let listing: unknown;
      try {
        listing = await this.nft.listJson(["map", ...TABLE.split(" "), map]);
      } catch (err) {
        if (isNoSuchObject(err)) continue;
        throw err;
      }
      sessions.push(...mapElements(listing));
    }
    return sessions;
  }

  /** Unmaps the account's sessions and deletes its counters; their last values are lost. */
  async deleteAccount(user: string): Promise<void> {
    for (const session of await this.mappedSessions()) {
      if (session.user === user) await this.unmapSession(session);
    }
    try {
      await this.nft.run(deleteAccountScript(user));
    } catch (err) {
      if (!isNoSuchObject(err)) throw err;
    }
  }

  /** Absolute per-account totals as the kernel holds them now. */
  async readUsage(): Promise<AccountUsage> {
    const usage: AccountUsage = new Map();
    for (const [name, value] of await this.nft.readCounters(TABLE)) {
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
}

/**
 * Elements of an `nft -j list map` answer whose value is an account's up counter. Keys come as
 * `{"concat": [ip, port]}`; a value is the counter's name.
 */
function mapElements(listing: unknown): Array<SessionKey & { user: string }> {
  const result: Array<SessionKey & { user: string }> = [];
  const items = (listing as { nftables?: unknown[] }).nftables ?? [];
  for (const item of items) {
    const elem = (item as { map?: { elem?: unknown[] } }).map?.elem;
    if (!Array.isArray(elem)) continue;
    for (const pair of elem) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const concat = (pair[0] as { concat?: unknown[] }).concat;
      const owner = typeof pair[1] === "string" ? parseCounterName(pair[1]) : null;
      if (!owner || !Array.isArray(concat)) continue;
      const [ip, port] = concat;
      if (typeof ip === "string" && isIP(ip) && typeof port === "number") {
        result.push({ ip, port, user: owner.user });
      }
    }
  }
  return result;
}
