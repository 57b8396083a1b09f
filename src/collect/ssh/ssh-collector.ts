/**
 * SSH accounting as a worker component: kuota's nft table counts each mapped connection into its
 * account's counters; login lines (journal or log files) map sessions as they start; a rebuild
 * from live sockets every REBUILD_MS maps what the lines missed and sweeps what ended silently;
 * a poll every KUOTA_POLL_MS adds the counters' growth to the store like the Xray path.
 *
 * Counters are never reset. The store's baselines are the kernel's absolute values, so when the
 * table is lost (reboot, `nft flush ruleset`) it is recreated with them and counting continues:
 * what flowed between the last read and the loss (at most one poll) is the only gap. Reading the
 * counters into the store is ssh-counters.ts; this file decides which connection counts for whom.
 *
 * Limited accounts also get a kernel quota object (ssh-quotas.ts), referenced from their mapped
 * sessions: the collector maps sessions, the quota part keeps the objects in step with the limits
 * and reports an account whose quota ran out through `onQuotaOver`.
 */
import { execa } from "execa";
import { OperatorError } from "../../core/errors.js";
import type { Logger } from "../../core/log.js";
import type { StatusView } from "../../control/api.js";
import type { Store, Usage } from "../../store/store.js";
import type { WorkerComponent } from "../../worker/component.js";
import type { WorkerContext } from "../../worker/worker.js";
import {
  anyEstablished,
  findLiveSessions,
  listEstablished,
  type LiveSession,
  type ProcessInfo,
  type SocketRow,
} from "./live-sessions.js";
import { parseLoginLine, type LoginLine } from "./login-line.js";
import { JournalFollower } from "./journal-follower.js";
import { LogFileFollower } from "./log-file-follower.js";
import { resolveAuthLog, type LoginSource } from "./login-source.js";
import { Nft, isNoSuchObject } from "./nft.js";
import { DEFAULT_QUOTA_NFLOG_GROUP, type SessionKey } from "./nft-ruleset.js";
import { SshCounters } from "./ssh-counters.js";
import { SshQuotas, type MappedSession } from "./ssh-quotas.js";
import { SshCountingTable } from "./ssh-table.js";

/** How often sessions are rebuilt from live sockets and stale entries swept (ms). */
export const REBUILD_MS = 10_000;
/** While idle, every this many rebuild rounds is a full one (10 s rounds: once a minute). */
const IDLE_FULL_REBUILD_EVERY = 6;

/** Batches with more sessions than this (a backlog) are mapped by one rebuild instead. */
const DIRECT_MAP_LIMIT = 32;
/** Dropbear pids remembered from login lines, at most (forged floods must not grow memory). */
const MAX_DROPBEAR_PIDS = 10_000;

export interface SshCollectorOptions {
  /** SSH_ACCOUNTING: false starts nothing and touches neither nft nor the logs. */
  enabled?: boolean;
  sshPorts: readonly number[];
  /** `SSH_AUTH_LOG`. */
  authLog: "auto" | readonly string[];
  /** Counter read interval (ms): KUOTA_POLL_MS. */
  pollMs: number;
  store: Store;
  log: Logger;
  onUsage: (changed: Usage[]) => void;
  /** Replaceable in tests. */
  nft?: Nft;
  processes?: ProcessInfo;
  sources?: LoginSource[];
  rebuildMs?: number;
  /** NFLOG group of quota drops: KUOTA_QUOTA_NFLOG_GROUP. Default 42. */
  quotaGroup?: number;
  /**
   * An account's kernel quota ran out (its packets are being dropped); its counters were read
   * into the store just before. Called once per account until its quota is set again.
   */
  onQuotaOver?: (user: string) => void;
}

type SshStatus = NonNullable<StatusView["ssh"]>;

/** One live SSH session of an account, as {@link SshCollector.sessionsOf} reports it. */
export type AccountSession = SessionKey & {
  pid: number | null;
  daemon: LiveSession["daemon"] | "unknown";
};

const keyOf = (k: SessionKey): string => `${k.ip} ${k.port}`;

export class SshCollector implements WorkerComponent {
  readonly name = "ssh";
  readonly #opts: SshCollectorOptions;
  readonly #log: Logger;
  readonly #table: SshCountingTable;
  readonly #sources: LoginSource[];
  /**
   * What the kernel maps, as far as this process knows: session key → account, and whether the
   * session also counts against the account's quota object.
   */
  readonly #mapped = new Map<string, MappedSession>();
  /** Rebuild rounds so far (the first is always full). */
  #rebuilds = 0;
  readonly #counters: SshCounters;
  readonly #quotas: SshQuotas;
  /** Dropbear child pid → account, from login lines and from the map (Dropbear hides the user). */
  readonly #dropbearUsers = new Map<number, string>();
  /** Accounts whose counters were deleted on purpose: never restored from the store. */
  readonly #forgotten = new Set<string>();
  #lock: Promise<unknown> = Promise.resolve();
  #pollTimer: NodeJS.Timeout | null = null;
  #rebuildTimer: NodeJS.Timeout | null = null;
  #inFlight: Promise<unknown> | null = null;
  #enabled = false;
  #stopped = false;
  #recovering = false;
  /** Why SSH accounting is off (nft missing, no CAP_NET_ADMIN). */
  #offReason: string | undefined;
  #noDaemon: string | null = null;
  #noDaemonLogged = false;
  #rebuildFailure: string | null = null;

  constructor(options: SshCollectorOptions) {
    this.#opts = options;
    this.#log = options.log;
    this.#table = new SshCountingTable(
      options.nft ?? new Nft(),
      options.sshPorts,
      options.quotaGroup ?? DEFAULT_QUOTA_NFLOG_GROUP,
    );
    this.#sources = options.sources ?? this.#defaultSources();
    this.#counters = new SshCounters({
      table: this.#table,
      store: options.store,
      onUsage: options.onUsage,
    });
    this.#quotas = new SshQuotas({
      table: this.#table,
      store: options.store,
      log: options.log,
      sshPorts: options.sshPorts,
      group: options.quotaGroup ?? DEFAULT_QUOTA_NFLOG_GROUP,
      ...(options.onQuotaOver ? { onQuotaOver: options.onQuotaOver } : {}),
      host: {
        sessionsOf: (user) => [...this.#mapped.values()].filter((m) => m.user === user),
        userAt: (key) => this.#mapped.get(keyOf(key))?.user,
        managed: () => this.#managed(),
        apply: (usage, only) => this.#counters.save(usage, only),
        pollAccounts: (names) => this.pollAccounts(names),
      },
    });
  }

  async start(): Promise<void> {
    if (this.#opts.enabled === false) {
      this.#offReason = "SSH_ACCOUNTING=false";
      this.#log.info("SSH accounting is off (SSH_ACCOUNTING=false)");
      return;
    }
    try {
      await this.#exclusive(() => this.#ensure());
    } catch (err) {
      if (!(err instanceof OperatorError)) throw err;
      this.#offReason = err.hint ? `${err.message}; ${err.hint}` : err.message;
      this.#log.warn({ hint: err.hint }, `SSH accounting is off: ${err.message}`);
      return;
    }
    this.#enabled = true;
    await this.#quotas.start();
    await this.#exclusive(() => this.#rebuild());
    for (const source of this.#sources) await source.start((lines) => this.#onLines(lines));
    this.#schedulePoll(0);
    this.#scheduleRebuild();
    this.#log.info(
      {
        ports: this.#opts.sshPorts,
        sources: this.#sources.map((s) => s.name),
        sessions: this.#mapped.size,
      },
      "SSH accounting started",
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    if (this.#rebuildTimer) clearTimeout(this.#rebuildTimer);
    if (this.#enabled) for (const source of this.#sources) await source.stop();
    await this.#quotas.stop();
    await this.#inFlight;
    // the last growth is stored before the worker exits
    if (this.#enabled)
      await this.pollOnce().catch((err: unknown) =>
        this.#log.warn({ err }, "last SSH read failed"),
      );
  }

  status(): SshStatus {
    const view: SshStatus = { enabled: this.#enabled, sessions: this.#mapped.size };
    const reason =
      this.#offReason ??
      this.#noDaemon ??
      this.#sources.find((s) => s.problem !== null)?.problem ??
      this.#rebuildFailure ??
      undefined;
    if (reason !== undefined) view.reason = reason;
    return view;
  }

  /**
   * Brings every limited account's quota object in line with its limit in the store (a limit set,
   * raised, lowered or removed): the worker calls this when accounts change.
   */
  syncLimits(): Promise<void> {
    return this.#exclusive(() => this.#syncQuotas(null));
  }

  /** Reads every SSH counter and stores its growth. */
  pollOnce(): Promise<void> {
    return this.#exclusive(() => this.#poll(null));
  }

  /** Reads the counters of a few accounts only (quota enforcement), never interleaved with a poll. */
  pollAccounts(names: readonly string[]): Promise<void> {
    return this.#exclusive(() => this.#poll(new Set(names)));
  }

  /**
   * The account's live sessions: OpenSSH ones from their processes, Dropbear ones from login lines
   * and from the sessions mapped to the account, each with the daemon process holding it.
   */
  async sessionsOf(user: string): Promise<AccountSession[]> {
    return this.#exclusive(async () => {
      const sessions = new Map<string, AccountSession>();
      for (const s of await this.#live()) {
        if (s.user === user)
          sessions.set(keyOf(s), { ip: s.ip, port: s.port, pid: s.pid, daemon: s.daemon });
      }
      const mine = [...this.#mapped.values()].filter(
        (m) => m.user === user && !sessions.has(keyOf(m)),
      );
      if (mine.length > 0) {
        const rows = await listEstablished(this.#opts.sshPorts);
        for (const m of mine) {
          const row = rows.find((r) => r.peerIp === m.ip && r.peerPort === m.port);
          if (!row) continue;
          const owner = row.owners.find((o) => o.command === "dropbear") ?? row.owners[0];
          const daemon = owner?.command === "dropbear" ? "dropbear" : owner ? "openssh" : "unknown";
          sessions.set(keyOf(m), { ip: m.ip, port: m.port, pid: owner?.pid ?? null, daemon });
        }
      }
      return [...sessions.values()];
    });
  }

  /**
   * Stops counting an account being deleted: unmaps its sessions, deletes its counters (their
   * last value stays in the store) and never restores them from the store. A later login of a
   * managed account of that name counts again from a new counter.
   */
  async forget(user: string): Promise<void> {
    await this.#exclusive(async () => {
      this.#forgotten.add(user);
      if (!this.#enabled) return;
      await this.#poll(new Set([user]));
      this.#dropSessionsOf(user);
      await this.#table.deleteAccount(user);
      this.#quotas.forget(user);
      this.#counters.forget(user);
    });
  }

  /** Drops the account's sessions from this process's view of the kernel's maps. */
  #dropSessionsOf(user: string): void {
    for (const [key, m] of this.#mapped) if (m.user === user) this.#mapped.delete(key);
  }

  #defaultSources(): LoginSource[] {
    const { store, log } = this.#opts;
    return resolveAuthLog(this.#opts.authLog).map((name) =>
      name === "journal"
        ? new JournalFollower({ store, stateKey: "ssh.journal.cursor", log })
        : new LogFileFollower({ path: name, store, stateKey: `ssh.auth_log:${name}`, log }),
    );
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  #schedulePoll(delayMs: number): void {
    if (this.#stopped) return;
    this.#pollTimer = setTimeout(() => {
      const started = performance.now();
      const run = this.pollOnce().catch((err: unknown) =>
        this.#log.error({ err }, "SSH counter read failed"),
      );
      this.#inFlight = run;
      void run.finally(() =>
        this.#schedulePoll(Math.max(0, this.#opts.pollMs - (performance.now() - started))),
      );
    }, delayMs);
  }

  #scheduleRebuild(): void {
    if (this.#stopped) return;
    this.#rebuildTimer = setTimeout(() => {
      const run = this.#exclusive(() => this.#rebuild()).catch((err: unknown) =>
        this.#log.error({ err }, "SSH session rebuild failed"),
      );
      this.#inFlight = run;
      void run.finally(() => this.#scheduleRebuild());
    }, this.#opts.rebuildMs ?? REBUILD_MS);
  }

  /**
   * Accounts SSH accounting counts: protocol ssh in the store, not being deleted, with their limit
   * (bytes, null: unlimited).
   */
  async #managed(): Promise<Map<string, number | null>> {
    const accounts = await this.#opts.store.listAccounts();
    return new Map(
      accounts
        .filter((a) => a.protocol === "ssh" && !this.#forgotten.has(a.name))
        .map((a) => [a.name, a.limitBytes]),
    );
  }

  /** The account's limit if SSH accounting counts it (null: unlimited), undefined if not. */
  async #managedLimit(user: string): Promise<number | null | undefined> {
    const account = await this.#opts.store.getAccount(user);
    return account?.protocol === "ssh" ? account.limitBytes : undefined;
  }

  /** Brings quota objects in line with the limits (ssh-quotas.ts); inside the lock. */
  async #syncQuotas(only: ReadonlySet<string> | null): Promise<void> {
    if (this.#enabled) await this.#quotas.sync(only);
  }

  /** The table and every managed account's counters, restored from the store if lost. */
  async #ensure(): Promise<void> {
    await this.#counters.ensure((await this.#managed()).keys());
  }

  async #poll(only: ReadonlySet<string> | null): Promise<void> {
    if (!this.#enabled) return;
    if (only !== null) {
      await this.#counters.save(await this.#counters.read(), only);
      return;
    }
    const read = await this.#counters.readAll(this.#mapped.size === 0);
    if (read === null) return;
    let usage = read.usage;
    for (const user of read.gone) {
      this.#forgotten.add(user);
      this.#dropSessionsOf(user);
    }
    if (read.lost > 0) {
      this.#log.warn(
        { accounts: read.lost },
        "SSH counters vanished (flushed ruleset or reboot); restoring them from the store",
      );
      await this.#recover();
      usage = await this.#counters.read();
    }
    this.#counters.accept(usage);
    await this.#quotas.checkPolled();
    await this.#counters.save(usage, null);
  }

  /** After a flush: the table with the stored values, then every live session mapped again. */
  async #recover(): Promise<void> {
    this.#recovering = true;
    try {
      this.#mapped.clear();
      this.#quotas.clear();
      await this.#rebuild();
    } finally {
      this.#recovering = false;
    }
  }

  async #live(rows?: SocketRow[]): Promise<LiveSession[]> {
    const options: Parameters<typeof findLiveSessions>[0] = {
      sshPorts: this.#opts.sshPorts,
      dropbearUsers: this.#dropbearUsers,
    };
    if (rows) options.rows = rows;
    if (this.#opts.processes) options.processes = this.#opts.processes;
    return findLiveSessions(options);
  }

  /**
   * Re-reads the maps, maps every live session of a managed account that is not mapped to it,
   * unmaps keys now held by another user's session and keys whose socket is gone.
   */
  async #rebuild(): Promise<void> {
    if (!this.#enabled) return;
    const started = performance.now();
    // Idle (nothing mapped): the kernel's socket table says whether anyone is
    // connected at all; if not, the nft work (ensure, maps, quotas) waits for the
    // next full round, which still comes every IDLE_FULL_REBUILD_EVERY rounds to
    // repair a flushed table.
    const round = this.#rebuilds++;
    if (this.#mapped.size === 0 && round % IDLE_FULL_REBUILD_EVERY !== 0) {
      if (!(await anyEstablished(this.#opts.sshPorts))) return;
    }
    await this.#ensure();
    this.#mapped.clear();
    const withQuota = new Set((await this.#table.quotaSessions()).map(keyOf));
    for (const m of await this.#table.mappedSessions())
      this.#mapped.set(keyOf(m), { ...m, quota: withQuota.has(keyOf(m)) });
    let live: LiveSession[];
    let rows: Awaited<ReturnType<typeof listEstablished>>;
    try {
      rows = await listEstablished(this.#opts.sshPorts);
      live = await this.#live(rows);
      this.#rebuildFailure = null;
    } catch (err) {
      if (!(err instanceof OperatorError)) throw err;
      if (this.#rebuildFailure === null)
        this.#log.warn({ hint: err.hint }, `SSH sessions cannot be rebuilt: ${err.message}`);
      this.#rebuildFailure = err.message;
      return;
    }
    await this.#checkDaemons();
    const managed = await this.#managed();
    const alivePids = new Set<number>();
    for (const session of live) {
      const key = keyOf(session);
      const mapped = this.#mapped.get(key);
      if (session.daemon === "dropbear") {
        alivePids.add(session.pid);
        // Dropbear hides the user: the map remembers it across worker restarts
        if (session.user === null && mapped) this.#dropbearUsers.set(session.pid, mapped.user);
      }
      if (session.user === null || mapped?.user === session.user) continue;
      if (managed.has(session.user))
        await this.#map(session, session.user, managed.get(session.user) ?? null);
      else if (mapped) await this.#unmap(session);
    }
    const sockets = new Set(rows.map((r) => keyOf({ ip: r.peerIp, port: r.peerPort })));
    for (const [key, m] of this.#mapped) if (!sockets.has(key)) await this.#unmap(m);
    for (const pid of this.#dropbearUsers.keys())
      if (!alivePids.has(pid)) this.#dropbearUsers.delete(pid);
    // quotas lost or unknown to this process (start, flush, a limit changed while it was down)
    await this.#syncQuotas(null);
    const durationMs = Math.round(performance.now() - started);
    this.#log.debug(
      { sessions: this.#mapped.size, sockets: rows.length, durationMs },
      "SSH sessions rebuilt",
    );
  }

  /** Says once when nothing listens on SSH_PORTS: counting waits for a daemon. */
  async #checkDaemons(): Promise<void> {
    const filter = this.#opts.sshPorts.map((p) => `sport = :${p}`).join(" or ");
    const { stdout } = await execa("ss", ["-ltnH", `( ${filter} )`], { reject: false });
    const listening = String(stdout).trim() !== "";
    if (listening) {
      if (this.#noDaemon !== null) this.#log.info("an SSH daemon listens now");
      this.#noDaemon = null;
      return;
    }
    this.#noDaemon = `no SSH daemon listens on ${this.#opts.sshPorts.join(",")}`;
    if (!this.#noDaemonLogged) {
      this.#noDaemonLogged = true;
      this.#log.warn(
        `${this.#noDaemon}; start OpenSSH or Dropbear, or fix SSH_PORTS (counting starts when one listens)`,
      );
    }
  }

  async #onLines(lines: string[]): Promise<void> {
    const events: LoginLine[] = [];
    for (const line of lines) {
      const event = parseLoginLine(line);
      if (event) events.push(event);
    }
    if (events.length === 0) return;
    await this.#exclusive(async () => {
      if (!this.#enabled) return;
      const latest = new Map<string, LoginLine>();
      for (const event of events) {
        latest.delete(keyOf(event));
        latest.set(keyOf(event), event);
        if (event.daemon === "dropbear" && event.pid !== undefined && event.event === "login") {
          if (this.#dropbearUsers.size >= MAX_DROPBEAR_PIDS) this.#dropbearUsers.clear();
          this.#dropbearUsers.set(event.pid, event.user);
        }
      }
      if (latest.size > DIRECT_MAP_LIMIT) {
        await this.#rebuild();
        return;
      }
      for (const event of latest.values()) {
        const mapped = this.#mapped.get(keyOf(event));
        if (event.event === "logout") {
          if (mapped?.user === event.user) await this.#unmap(event);
        } else if (mapped?.user !== event.user) {
          const limit = await this.#managedLimit(event.user);
          if (limit !== undefined) await this.#map(event, event.user, limit);
          else
            this.#log.debug(
              { user: event.user, daemon: event.daemon },
              "login of an account kuota does not count",
            );
        }
      }
    });
  }

  /** Maps a session; a limited account's quota object is made first if missing. */
  async #map(key: SessionKey, user: string, limit: number | null): Promise<void> {
    const session = { ip: key.ip, port: key.port };
    const quota = limit !== null;
    try {
      if (quota && this.#quotas.limitSetFor(user) !== limit)
        await this.#syncQuotas(new Set([user]));
      await this.#table.mapSession(session, user, quota);
    } catch (err) {
      if (!isNoSuchObject(err) || this.#recovering) throw err;
      // the maps are gone (flush): restore the table with the stored values first
      await this.#recover();
      if (quota && this.#quotas.limitSetFor(user) !== limit)
        await this.#syncQuotas(new Set([user]));
      await this.#table.mapSession(session, user, quota);
    }
    this.#forgotten.delete(user);
    this.#mapped.set(keyOf(session), { ...session, user, quota });
    this.#log.debug({ user, ip: key.ip, port: key.port }, "SSH session counted");
  }

  async #unmap(key: SessionKey): Promise<void> {
    const session = { ip: key.ip, port: key.port };
    await this.#table.unmapSession(session, this.#mapped.get(keyOf(session))?.quota ?? true);
    this.#mapped.delete(keyOf(session));
  }
}

/**
 * The worker's SSH accounting, configured from the worker's context.
 * @param onQuotaOver called when an account's kernel quota ran out (quota enforcement)
 */
export function sshAccounting(
  ctx: WorkerContext,
  onQuotaOver?: (user: string) => void,
): SshCollector {
  const { config } = ctx;
  return new SshCollector({
    quotaGroup: config.quotaNflogGroup,
    ...(onQuotaOver ? { onQuotaOver } : {}),
    enabled: config.sshAccounting,
    sshPorts: config.sshPorts,
    authLog: config.sshAuthLog,
    pollMs: config.pollMs,
    store: ctx.store,
    log: ctx.log.child({ component: "ssh" }),
    onUsage: ctx.onUsage,
  });
}
