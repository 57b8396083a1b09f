/**
 * The control API's contract: paths, request bodies and answers, shared by the
 * worker's routes, the CLI and the bot. Every path is served over the unix
 * socket as HTTP+JSON. Failures answer `ApiErrorBody` with a stable `code`.
 *
 * GET    /v1/status                   → StatusView
 * GET    /v1/usage                    → { accounts: AccountView[] }
 * GET    /v1/usage/:name              → AccountView
 * POST   /v1/accounts                 CreateAccountRequest → CreatedAccount
 * GET    /v1/accounts/:name           → AccountDetails
 * POST   /v1/accounts/:name/limit     SetLimitRequest → AccountView (unlocks a locked account
 *                                      brought back within its limit, unexpired: a top-up)
 * POST   /v1/accounts/:name/expiry    SetExpiryRequest → AccountView (unlocks a locked account
 *                                      brought back unexpired, within its limit: a renewal)
 * POST   /v1/accounts/:name/unlock    → DeletionReport (the unlock's steps; 409 not_locked)
 * DELETE /v1/accounts/:name           DeleteAccountRequest (body) → DeletionReport
 * GET    /v1/hosts?limit&since&service&q&after_id → { hosts: HostView[] }
 * GET    /v1/deleted?limit            → { entries: DeletedLogEntry[] }
 * GET    /v1/events/pending?limit     → { events: DeletionEvent[] }
 * POST   /v1/events/ack               AckEventsRequest → { acked: number }
 */
import type { AccountView } from "../worker/views.js";
import type { DeletionEvent, Protocol } from "../store/store.js";
import type { XrayStatus } from "../collect/xray/xray-collector.js";

export type { AccountView, DeletionEvent, Protocol };

export type CreateAccountRequest = {
  protocol: Protocol;
  name: string;
  /** SSH only: the login password. */
  password?: string;
  /** Size text as typed (`500MB`, `5GB`, `1.5GB`, `0`, `unlimited`) or bytes; absent: unlimited. */
  limit?: string | number | null;
  /** Days of validity from now; absent: never expires. */
  days?: number;
};

export type ConnectionDetails = {
  /** Public host used in links (KUOTA_PUBLIC_HOST). */
  host: string;
  /** One entry per inbound the account was added to (Xray) or per SSH port. */
  endpoints: {
    tag: string;
    port: number | string;
    network: string;
    path: string | null;
    tls: boolean;
  }[];
  /** SSH password, VMess/VLESS UUID, or Trojan/Shadowsocks password. Shown once to the seller. */
  secret: string;
  /** Shadowsocks cipher, when relevant. */
  method?: string;
};

export type CreatedAccount = {
  account: AccountView;
  connection: ConnectionDetails;
  /** Share links sellers hand to customers (vmess://, vless://, trojan://, ss://); none for SSH. */
  links: string[];
  /**
   * What the seller should know, one line each: the engine was unreachable (the account is in the
   * config and loads at its next start), no KUOTA_PUBLIC_HOST (no links), Dropbear will refuse
   * the account's shell... Empty when all went as planned.
   */
  notes?: string[];
};

export type AccountDetails = AccountView & {
  /** Xray: inbound tags holding the account. SSH: live sessions. */
  inbounds?: string[];
  sessions?: { ip: string; port: number; daemon: string }[];
};

export type SetLimitRequest = {
  /** Size text or bytes; `0`/`unlimited`/null removes the limit. */
  limit: string | number | null;
  /** Also reset the account's usage to zero. */
  reset?: boolean;
};

/**
 * Exactly one field: `days` adds whole days to the current expiry (to today when there is none or
 * it has passed); `expires` is a local date YYYY-MM-DD, the first day the account no longer works,
 * after today; `never: true` removes the expiry. SSH accounts get the same date with `chage -E`.
 */
export type SetExpiryRequest = { days: number } | { expires: string } | { never: true };

export type DeleteAccountRequest = { reason?: string };

/**
 * What a deletion did, step by step; failed steps are reported and the rest still ran. When the
 * account could still be used (the Linux user or the config client could not be removed) it stays
 * in the store, so rerunning the delete finishes what is left.
 */
export type DeletionReport = {
  account: string;
  protocol: Protocol;
  steps: { step: string; ok: boolean; detail?: string }[];
  /** True when every step succeeded; rerunning the delete finishes what is left. */
  complete: boolean;
};

/**
 * One host clients asked for, deduplicated (lowercase, no trailing dot). Service, source and kind
 * are those of its first sighting. GET /v1/hosts answers newest `last_seen` first; `since` (ISO
 * 8601) keeps hosts seen since then; `service` is exact and case-insensitive; `q` is a substring of
 * the host; `after_id=N` answers hosts recorded after id N, oldest first (to follow new hosts);
 * `limit` defaults to 100, at most 10,000.
 */
export type HostView = {
  /** Grows with every new host. */
  id: number;
  host: string;
  service: string;
  source_ip: string;
  account: string | null;
  kind: "sni" | "http" | "xray";
  count: number;
  /** ISO 8601 instants. */
  first_seen: string;
  last_seen: string;
};

/**
 * One line of deleted.log: `YYYY-MM-DD HH:MM:SS | PROTO | NAME | details` (local time).
 * GET /v1/deleted answers the latest `limit` lines (default 20, at most 1,000), newest first.
 */
export type DeletedLogEntry = { time: string; protocol: string; name: string; details: string };

export type AckEventsRequest = { ids: number[] };

export type StatusView = {
  worker: { pid: number; startedAt: string; uptimeS: number };
  accounts: { total: number; present: number };
  xray: XrayStatus;
  /** Present once SSH accounting runs. */
  ssh?: { enabled: boolean; sessions: number; reason?: string };
  /** Present once host capture runs. */
  capture?: {
    /** The nft rule and its NFLOG reader run. */
    enabled: boolean;
    /** NFLOG records received; `lost`: the rule's counter minus these (kernel/tcpdump loss). */
    records: number;
    lost: number;
    /** Distinct hosts recorded. */
    hosts: number;
    /** Why packet capture is off, with the next step. */
    reason?: string;
    /** Records or sightings kuota itself dropped because parsing or the store fell behind. */
    dropped?: number;
    /** The Xray access log followed, and why it cannot be read now. */
    accessLog?: { path: string; problem?: string };
  };
};
