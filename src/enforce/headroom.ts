/**
 * Which accounts must be read between regular polls. An account is "hot" when
 * what it has left could be used up before the next regular poll at the highest
 * rate the server can carry; it is then read on its own every few ms. Everyone
 * else waits for the regular poll, so idle servers stay idle.
 */
export type LimitedAccount = {
  name: string;
  limitBytes: number;
  usedBytes: number;
};

export type HeadroomPolicy = {
  /** The server's fastest link (bytes per second), from KUOTA_LINK_MBPS. */
  linkBytesPerSecond: number;
  /** Regular poll interval (ms). */
  pollMs: number;
  /**
   * Margin on the regular interval (a poll can be late by its own duration, and
   * the worker may be busy): 2 means "could run out within two intervals".
   */
  safety?: number;
};

/** Bytes an account can move, at most, before the next regular poll sees it. */
export function reachBytes(policy: HeadroomPolicy): number {
  return (policy.linkBytesPerSecond * policy.pollMs * (policy.safety ?? 2)) / 1000;
}

/** Accounts whose remaining quota is within reach of one regular interval. */
export function hotAccounts(accounts: LimitedAccount[], policy: HeadroomPolicy): string[] {
  const reach = reachBytes(policy);
  return accounts.filter((a) => a.limitBytes - a.usedBytes <= reach).map((a) => a.name);
}

/** Megabits per second (as sellers' links are sold) to bytes per second. */
export function mbpsToBytesPerSecond(mbps: number): number {
  return (mbps * 1_000_000) / 8;
}
