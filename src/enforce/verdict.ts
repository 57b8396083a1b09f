/**
 * Whether an account is to be cut now, and the reason written to deleted.log and the event: the
 * one rule the sweep, the usage check and every cut share.
 */
import { formatBytes } from "../accounts/sizes.js";
import type { AccountWithUsage, Usage } from "../store/store.js";

/**
 * Why a cut was started: the store showed usage >= limit ("usage"), a hot Xray account's pace
 * says it runs out within the cut latency ("timed"), or an SSH account's kernel quota ran out
 * ("kernel-quota"). The kernel quota is authoritative: it drops the packet that would cross the
 * limit, so the counters (which count only what passed) stay a packet short of the limit.
 */
export type CutTrigger = "usage" | "timed" | "kernel-quota";

/**
 * How far below its limit an SSH account's stored usage may be when its kernel quota runs out
 * (bytes): the dropped packet that crossed it (at most a 64 KiB GSO segment), and the few bytes
 * a quota set while traffic flowed may be ahead of the counters. A limit raised since is above
 * this and stops the cut.
 */
export const KERNEL_QUOTA_SLACK = 256 * 1024;

/** Upload plus download: what a limit is measured against. */
export const usedBytes = (u: Usage): number => u.uploadBytes + u.downloadBytes;

export type Verdict = { over: "quota" | "expiry"; reason: string };

/**
 * Whether `account` is due at `now`: over its quota (counting `reach`, the bytes the trigger
 * allows for below the limit) or past its expiry date. Null when neither.
 */
export function verdict(
  account: Pick<AccountWithUsage, "limitBytes" | "expiresAt" | "usage">,
  now: number,
  trigger: CutTrigger = "usage",
  reach = 0,
): Verdict | null {
  const total = usedBytes(account.usage);
  const limit = account.limitBytes;
  if (limit !== null && total + reach >= limit) {
    const why =
      total >= limit
        ? ""
        : trigger === "kernel-quota"
          ? ", its kernel quota ran out"
          : ", cut timed to land as it ran out";
    return {
      over: "quota",
      reason:
        `Bandwidth limit exceeded: used ${formatBytes(total)} (${total} B) ` +
        `of ${formatBytes(limit)} (${limit} B)${why}`,
    };
  }
  if (account.expiresAt !== null && Date.parse(account.expiresAt) <= now) {
    return { over: "expiry", reason: `Expired on ${account.expiresAt}` };
  }
  return null;
}
