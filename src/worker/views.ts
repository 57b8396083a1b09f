import { usageDocument, type UsageDocument } from "../export/usage-files.js";
import { localDate } from "../core/time.js";
import type { AccountWithUsage } from "../store/store.js";

/** An account as the control API shows it: the usage document plus account state. */
export type AccountView = UsageDocument & {
  origin: AccountWithUsage["origin"];
  state: AccountWithUsage["state"];
  present: boolean;
  expires_at: string | null;
  last_seen_at: string | null;
  /** Share of the limit used, 0-100+, or null when unlimited. */
  percent: number | null;
};

export function accountView(a: AccountWithUsage, today = localDate()): AccountView {
  const doc = usageDocument(a, today);
  return {
    ...doc,
    origin: a.origin,
    state: a.state,
    present: a.present,
    expires_at: a.expiresAt,
    last_seen_at: a.usage.lastSeenAt,
    percent:
      a.limitBytes === null
        ? null
        : Math.round((doc.total_usage.total_bytes / a.limitBytes) * 10000) / 100,
  };
}
