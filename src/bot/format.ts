import { formatBytes } from "../accounts/sizes.js";
import { localDateTime } from "../core/time.js";
import type {
  AccountView,
  DeletedLogEntry,
  DeletionEvent,
  HostView,
  StatusView,
} from "../control/api.js";
import { clip, escapeHtml, usageBar } from "./html.js";
import type { Translate } from "./locales.js";

/**
 * Replies built from worker answers. Every dynamic value is escaped here, so the
 * locale files can hold HTML and nothing a customer named can break it.
 */

/** A quota for people: `5.00 GiB`, or the word for unlimited. */
export function limitText(t: Translate, bytes: number | null): string {
  return bytes === null ? t("unlimited") : formatBytes(bytes);
}

/** ` (24.5%)`, or nothing for an unlimited account. */
export function percentText(percent: number | null): string {
  if (percent === null || !Number.isFinite(percent)) return "";
  return ` (${Math.round(percent * 10) / 10}%)`;
}

/** An ISO instant in the server's local time (`2026-12-07 10:30:45`), or `fallback`. */
export function timeText(iso: string | null, fallback: string): string {
  if (iso === null) return fallback;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? escapeHtml(clip(iso, 32)) : localDateTime(d);
}

function stateText(t: Translate, a: AccountView): string {
  if (!a.present) return t("state-absent");
  return a.state === "locked" ? t("state-locked") : t("state-active");
}

/** The full card of one account: /usage and the inline result's message. */
export function accountCard(t: Translate, a: AccountView): string {
  return t("usage-card", {
    name: escapeHtml(a.username),
    protocol: escapeHtml(a.protocol),
    state: stateText(t, a),
    upload: formatBytes(a.total_usage.upload_bytes),
    download: formatBytes(a.total_usage.download_bytes),
    total: formatBytes(a.total_usage.total_bytes),
    today: formatBytes(a.daily_usage.total_bytes),
    limit: limitText(t, a.limit_bytes),
    percent: percentText(a.percent),
    bar: usageBar(a.percent),
    lastSeen: timeText(a.last_seen_at, t("not-yet")),
    expires: timeText(a.expires_at, t("never")),
  });
}

/** One line for inline results' descriptions (plain text: no HTML there). */
export function accountSummary(t: Translate, a: AccountView): string {
  return t("inline-description", {
    protocol: a.protocol,
    used: formatBytes(a.total_usage.total_bytes),
    limit: limitText(t, a.limit_bytes),
    percent: percentText(a.percent),
  });
}

/** Accounts per /users page: ten two-line entries fit a phone screen. */
export const USERS_PAGE_SIZE = 10;

/** Accounts sorted by total usage, largest first; ties by name. */
export function byUsage(accounts: readonly AccountView[]): AccountView[] {
  return [...accounts].sort(
    (a, b) =>
      b.total_usage.total_bytes - a.total_usage.total_bytes || a.username.localeCompare(b.username),
  );
}

/** The text of one /users page (the page number is clamped); `pages` is at least 1. */
export function usersPage(
  t: Translate,
  sorted: readonly AccountView[],
  filterLabel: string,
  page: number,
): { text: string; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(sorted.length / USERS_PAGE_SIZE));
  const p = Math.min(Math.max(0, page), pages - 1);
  const slice = sorted.slice(p * USERS_PAGE_SIZE, (p + 1) * USERS_PAGE_SIZE);
  const lines = [
    t("users-header", {
      filter: escapeHtml(filterLabel),
      count: String(sorted.length),
      page: String(p + 1),
      pages: String(pages),
    }),
  ];
  if (slice.length === 0) lines.push(t("users-empty"));
  slice.forEach((a, i) => {
    lines.push(
      t("users-line", {
        rank: String(p * USERS_PAGE_SIZE + i + 1),
        name: escapeHtml(a.username),
        protocol: escapeHtml(a.protocol),
        used: formatBytes(a.total_usage.total_bytes),
        limit: limitText(t, a.limit_bytes),
        percent: percentText(a.percent),
      }),
    );
    const bar = usageBar(a.percent);
    if (bar) lines.push(`    ${bar}`);
  });
  return { text: lines.join("\n"), page: p, pages };
}

/** Lines of /hosts. */
export function hostsText(t: Translate, hosts: readonly HostView[], filter: string): string {
  const header = t("hosts-header", {
    filter: filter ? t("hosts-filter", { filter: escapeHtml(clip(filter, 30)) }) : "",
  });
  if (hosts.length === 0) return `${header}\n${t("hosts-empty")}`;
  const lines = hosts.map((h) =>
    t("hosts-line", {
      host: escapeHtml(clip(h.host, 60)),
      service: escapeHtml(clip(h.service, 20)),
      ip: escapeHtml(clip(h.source_ip, 45)),
      account: escapeHtml(clip(h.account ?? "-", 32)),
      count: String(h.count),
      time: timeText(h.last_seen, "-"),
    }),
  );
  return [header, ...lines].join("\n");
}

/** Lines of /deleted. */
export function deletedText(t: Translate, entries: readonly DeletedLogEntry[]): string {
  if (entries.length === 0) return `${t("deleted-header")}\n${t("deleted-empty")}`;
  const lines = entries.map((e) =>
    t("deleted-line", {
      time: escapeHtml(clip(e.time, 20)),
      name: escapeHtml(clip(e.name, 32)),
      protocol: escapeHtml(clip(e.protocol, 12)),
      details: escapeHtml(clip(e.details, 80)),
    }),
  );
  return [t("deleted-header"), ...lines].join("\n");
}

/** A duration in seconds as `3d 4h`, `5h 2m` or `42s`. */
export function durationText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** /status. */
export function statusText(t: Translate, s: StatusView): string {
  const engine = s.xray.reachable
    ? t("status-engine-up", { flavor: escapeHtml(s.xray.flavor ?? "?") })
    : t("status-engine-down");
  const ssh = !s.ssh
    ? t("status-not-running")
    : s.ssh.enabled
      ? t("status-ssh-on", { sessions: String(s.ssh.sessions) })
      : t("status-off", { reason: escapeHtml(clip(s.ssh.reason ?? "-", 80)) });
  const capture = !s.capture
    ? t("status-not-running")
    : s.capture.enabled
      ? t("status-capture-on", {
          hosts: String(s.capture.hosts),
          records: String(s.capture.records),
          lost: String(s.capture.lost),
        })
      : t("status-off", { reason: escapeHtml(clip(s.capture.reason ?? "-", 80)) });
  return t("status-text", {
    uptime: durationText(s.worker.uptimeS),
    pid: String(s.worker.pid),
    engine,
    present: String(s.accounts.present),
    total: String(s.accounts.total),
    lastPoll: timeText(s.xray.lastPollAt, "-"),
    pollMs: s.xray.lastPollMs === null ? "-" : String(s.xray.lastPollMs),
    polls: String(s.xray.polls),
    restarts: String(s.xray.restartsSeen),
    ssh,
    capture,
  });
}

/** What an event's reason amounts to: enforcement writes "Bandwidth limit exceeded" or "Expired". */
export function reasonKind(reason: string): "quota" | "expired" | "other" {
  const r = reason.toLowerCase();
  if (r.includes("quota") || r.includes("limit")) return "quota";
  if (r.includes("expir")) return "expired";
  return "other";
}

function reasonText(t: Translate, reason: string): string {
  const kind = reasonKind(reason);
  if (kind === "quota") return t("reason-quota");
  if (kind === "expired") return t("reason-expired");
  return escapeHtml(clip(reason, 60));
}

/** One pushed event, one line (two on a phone). */
export function eventLine(t: Translate, e: DeletionEvent): string {
  const vars = {
    name: escapeHtml(clip(e.account, 32)),
    protocol: escapeHtml(clip(e.protocol, 12)),
    used: formatBytes(e.usedBytes),
    limit: limitText(t, e.limitBytes),
    reason: reasonText(t, e.reason),
    time: timeText(e.at, "-"),
  };
  return e.kind === "locked" ? t("event-locked", vars) : t("event-deleted", vars);
}
