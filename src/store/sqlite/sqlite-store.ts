import type Database from "better-sqlite3";
import { openDatabase } from "./open.js";
import { localDate } from "../../core/time.js";
import type {
  Account,
  AccountWithUsage,
  AppliedBatch,
  CounterBatch,
  DeletionEvent,
  DiscoveredAccount,
  LockedClient,
  Protocol,
  Store,
  Usage,
} from "../store.js";

type AccountRow = {
  name: string;
  protocol: Protocol;
  origin: Account["origin"];
  limit_bytes: number | null;
  expires_at: string | null;
  state: Account["state"];
  present: number;
  created_at: string;
  updated_at: string;
  up_bytes: number;
  down_bytes: number;
  day: string;
  day_up_bytes: number;
  day_down_bytes: number;
  last_seen_at: string | null;
  usage_updated_at: string;
};

type UsageRow = {
  name: string;
  up_bytes: number;
  down_bytes: number;
  day: string;
  day_up_bytes: number;
  day_down_bytes: number;
  last_seen_at: string | null;
  updated_at: string;
};

type EventRow = {
  id: number;
  kind: DeletionEvent["kind"];
  account: string;
  protocol: Protocol;
  reason: string;
  used_bytes: number;
  limit_bytes: number | null;
  at: string;
  acked_at: string | null;
};

const ACCOUNT_SELECT = `
  SELECT a.*, u.up_bytes, u.down_bytes, u.day, u.day_up_bytes, u.day_down_bytes,
         u.last_seen_at, u.updated_at AS usage_updated_at
  FROM accounts a JOIN usage u ON u.name = a.name`;

function toUsage(r: UsageRow): Usage {
  return {
    name: r.name,
    uploadBytes: r.up_bytes,
    downloadBytes: r.down_bytes,
    day: r.day,
    dayUploadBytes: r.day_up_bytes,
    dayDownloadBytes: r.day_down_bytes,
    lastSeenAt: r.last_seen_at,
    updatedAt: r.updated_at,
  };
}

function toAccount(r: AccountRow): AccountWithUsage {
  return {
    name: r.name,
    protocol: r.protocol,
    origin: r.origin,
    limitBytes: r.limit_bytes,
    expiresAt: r.expires_at,
    state: r.state,
    present: r.present === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    usage: toUsage({ ...r, updated_at: r.usage_updated_at }),
  };
}

/** The embedded store: one SQLite file in WAL mode, used by the worker alone. */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    this.db = openDatabase(path);
    const db = this.db;
    this.stmts = {
      insertAccount: db.prepare(
        `INSERT INTO accounts (name, protocol, origin, limit_bytes, expires_at, created_at, updated_at)
         VALUES (@name, @protocol, @origin, @limit_bytes, @expires_at, @at, @at)`,
      ),
      insertUsage: db.prepare(`INSERT INTO usage (name, day, updated_at) VALUES (?, ?, ?)`),
      markPresent: db.prepare(
        `UPDATE accounts SET present = 1, updated_at = ? WHERE name = ? AND present = 0`,
      ),
      exists: db.prepare(`SELECT protocol FROM accounts WHERE name = ?`),
      getAccount: db.prepare(`${ACCOUNT_SELECT} WHERE a.name = ?`),
      listAccounts: db.prepare(`${ACCOUNT_SELECT} ORDER BY a.name`),
      setLimit: db.prepare(`UPDATE accounts SET limit_bytes = ?, updated_at = ? WHERE name = ?`),
      setExpiry: db.prepare(`UPDATE accounts SET expires_at = ?, updated_at = ? WHERE name = ?`),
      resetUsage: db.prepare(
        `UPDATE usage SET up_bytes = 0, down_bytes = 0, day_up_bytes = 0, day_down_bytes = 0,
         updated_at = ? WHERE name = ?`,
      ),
      removeAccount: db.prepare(`DELETE FROM accounts WHERE name = ?`),
      setAccountState: db.prepare(
        `UPDATE accounts SET state = @state, updated_at = @at,
         locked_clients = CASE WHEN @state = 'active' THEN NULL ELSE locked_clients END
         WHERE name = @name`,
      ),
      saveLockedClients: db.prepare(`UPDATE accounts SET locked_clients = ? WHERE name = ?`),
      lockedClients: db.prepare(`SELECT locked_clients FROM accounts WHERE name = ?`),
      getUsage: db.prepare(`SELECT * FROM usage WHERE name = ?`),
      addUsage: db.prepare(
        `UPDATE usage SET
           up_bytes = up_bytes + @up, down_bytes = down_bytes + @down,
           day_up_bytes = CASE WHEN day = @day THEN day_up_bytes + @up ELSE @up END,
           day_down_bytes = CASE WHEN day = @day THEN day_down_bytes + @down ELSE @down END,
           day = @day, last_seen_at = @at, updated_at = @at
         WHERE name = @name RETURNING *`,
      ),
      getBaseline: db.prepare(`SELECT raw FROM counter_baselines WHERE source = ? AND counter = ?`),
      setBaseline: db.prepare(
        `INSERT INTO counter_baselines (source, counter, raw) VALUES (?, ?, ?)
         ON CONFLICT (source, counter) DO UPDATE SET raw = excluded.raw`,
      ),
      dropBaselines: db.prepare(`DELETE FROM counter_baselines WHERE source = ?`),
      sourceBaselines: db.prepare(`SELECT counter, raw FROM counter_baselines WHERE source = ?`),
      getState: db.prepare(`SELECT value FROM collector_state WHERE key = ?`),
      setState: db.prepare(
        `INSERT INTO collector_state (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (kind, account, protocol, reason, used_bytes, limit_bytes, at)
         VALUES (@kind, @account, @protocol, @reason, @usedBytes, @limitBytes, @at)`,
      ),
      pendingEvents: db.prepare(`SELECT * FROM events WHERE acked_at IS NULL ORDER BY id LIMIT ?`),
      ackEvent: db.prepare(`UPDATE events SET acked_at = ? WHERE id = ? AND acked_at IS NULL`),
    };
  }

  async adoptAccounts(found: DiscoveredAccount[], at: string): Promise<string[]> {
    const added: string[] = [];
    const day = localDate(new Date(at));
    this.db.transaction(() => {
      for (const a of found) {
        const row = this.stmts.exists.get(a.name) as { protocol: Protocol } | undefined;
        if (row) {
          this.stmts.markPresent.run(at, a.name);
          continue;
        }
        this.stmts.insertAccount.run({
          name: a.name,
          protocol: a.protocol,
          origin: "adopted",
          limit_bytes: null,
          expires_at: null,
          at,
        });
        this.stmts.insertUsage.run(a.name, day, at);
        added.push(a.name);
      }
    })();
    if (added.length > 0) this.strays.clear();
    return added;
  }

  async markAbsent(
    protocols: Protocol[],
    presentNames: Set<string>,
    at: string,
  ): Promise<string[]> {
    const gone: string[] = [];
    const placeholders = protocols.map(() => "?").join(",");
    const rows = this.db
      .prepare(
        `SELECT name FROM accounts
         WHERE present = 1 AND state = 'active' AND protocol IN (${placeholders})`,
      )
      .all(...protocols) as { name: string }[];
    const mark = this.db.prepare(`UPDATE accounts SET present = 0, updated_at = ? WHERE name = ?`);
    this.db.transaction(() => {
      for (const { name } of rows) {
        if (presentNames.has(name)) continue;
        mark.run(at, name);
        gone.push(name);
      }
    })();
    return gone;
  }

  async createAccount(
    account: Omit<Account, "createdAt" | "updatedAt" | "present" | "state">,
    at: string,
  ): Promise<void> {
    this.db.transaction(() => {
      this.stmts.insertAccount.run({
        name: account.name,
        protocol: account.protocol,
        origin: account.origin,
        limit_bytes: account.limitBytes,
        expires_at: account.expiresAt,
        at,
      });
      this.stmts.insertUsage.run(account.name, localDate(new Date(at)), at);
    })();
    this.strays.clear();
  }

  async getAccount(name: string): Promise<AccountWithUsage | null> {
    const row = this.stmts.getAccount.get(name) as AccountRow | undefined;
    return row ? toAccount(row) : null;
  }

  async listAccounts(): Promise<AccountWithUsage[]> {
    return (this.stmts.listAccounts.all() as AccountRow[]).map(toAccount);
  }

  async setLimit(
    name: string,
    limitBytes: number | null,
    reset: boolean,
    at: string,
  ): Promise<void> {
    this.db.transaction(() => {
      this.stmts.setLimit.run(limitBytes, at, name);
      if (reset) this.stmts.resetUsage.run(at, name);
    })();
  }

  async setExpiry(name: string, expiresAt: string | null, at: string): Promise<void> {
    this.stmts.setExpiry.run(expiresAt, at, name);
  }

  async removeAccount(name: string): Promise<void> {
    this.stmts.removeAccount.run(name);
  }

  async setAccountState(name: string, state: Account["state"], at: string): Promise<void> {
    this.stmts.setAccountState.run({ name, state, at });
  }

  async saveLockedClients(name: string, clients: LockedClient[]): Promise<void> {
    this.stmts.saveLockedClients.run(JSON.stringify(clients), name);
  }

  async lockedClients(name: string): Promise<LockedClient[]> {
    const row = this.stmts.lockedClients.get(name) as { locked_clients: string | null } | undefined;
    return row?.locked_clients ? (JSON.parse(row.locked_clients) as LockedClient[]) : [];
  }

  /**
   * Baselines per source, kept in memory: the worker is the store's only writer,
   * so after the first read the table is written, never read, on the hot path.
   */
  private readonly baselines = new Map<string, Map<string, number>>();

  private baselinesOf(source: string): Map<string, number> {
    let map = this.baselines.get(source);
    if (!map) {
      const rows = this.stmts.sourceBaselines.all(source) as { counter: string; raw: number }[];
      map = new Map(rows.map((r) => [r.counter, r.raw]));
      this.baselines.set(source, map);
    }
    return map;
  }

  /**
   * Counters with no baseline whose account kuota does not count (an email in no account),
   * with the raw value they had: skipped without a query while they stay put. Cleared when
   * an account is added, so a counter of a newly adopted account is counted whole at once.
   */
  private readonly strays = new Map<string, Map<string, number>>();

  private straysOf(source: string): Map<string, number> {
    let map = this.strays.get(source);
    if (!map) this.strays.set(source, (map = new Map()));
    return map;
  }

  /** Whether a batch would change nothing: every counter at its baseline or a still stray. */
  private isStill(
    batch: CounterBatch,
    cached: Map<string, number>,
    strays: Map<string, number>,
  ): boolean {
    if (batch.sourceRestarted || batch.state !== undefined) return false;
    for (const r of batch.readings) {
      const prev = cached.get(r.counter) ?? strays.get(r.counter);
      if (prev !== r.raw) return false;
    }
    return true;
  }

  async applyCounters(batch: CounterBatch): Promise<AppliedBatch> {
    const changed: Usage[] = [];
    const cached = this.baselinesOf(batch.source);
    // An idle poll (the usual case: most accounts are still most of the time) opens
    // no transaction and writes nothing.
    const knownStrays = this.straysOf(batch.source);
    if (this.isStill(batch, cached, knownStrays)) return { changed };
    const updates = new Map<string, number>();
    const strays = new Map<string, number>();
    const run = this.db.transaction(() => {
      if (batch.sourceRestarted) this.stmts.dropBaselines.run(batch.source);
      for (const [k, v] of Object.entries(batch.state ?? {})) this.stmts.setState.run(k, v);
      const deltas = new Map<string, { up: number; down: number }>();
      for (const r of batch.readings) {
        const prev = batch.sourceRestarted ? undefined : cached.get(r.counter);
        // A counter of a name kuota never counted gets no baseline, so that when the
        // account is adopted later everything it used so far is counted.
        if (prev === undefined && knownStrays.get(r.counter) === r.raw) continue;
        if (prev === undefined && !this.stmts.exists.get(r.account)) {
          strays.set(r.counter, r.raw);
          continue;
        }
        // A counter below its baseline was reset behind our back (another reader
        // using reset=true, or a restart we could not see): its value is all new.
        const delta = prev === undefined || r.raw < prev ? r.raw : r.raw - prev;
        if (prev !== r.raw) {
          this.stmts.setBaseline.run(batch.source, r.counter, r.raw);
          updates.set(r.counter, r.raw);
        }
        if (delta === 0) continue;
        const d = deltas.get(r.account) ?? { up: 0, down: 0 };
        if (r.direction === "up") d.up += delta;
        else d.down += delta;
        deltas.set(r.account, d);
      }
      for (const [name, d] of deltas) {
        const row = this.stmts.addUsage.get({
          name,
          up: d.up,
          down: d.down,
          day: batch.day,
          at: batch.at,
        }) as UsageRow | undefined;
        if (row) changed.push(toUsage(row)); // else: not an account kuota counts
      }
    });
    run();
    // Only after the commit: a failed transaction leaves the cache as the table is.
    if (batch.sourceRestarted) cached.clear();
    for (const [counter, raw] of updates) cached.set(counter, raw);
    for (const [counter, raw] of strays) knownStrays.set(counter, raw);
    return { changed };
  }

  async counterBaselines(source: string): Promise<Map<string, number>> {
    return new Map(this.baselinesOf(source));
  }

  async getState(key: string): Promise<string | null> {
    const row = this.stmts.getState.get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  async setState(key: string, value: string): Promise<void> {
    this.stmts.setState.run(key, value);
  }

  async recordEvent(event: Omit<DeletionEvent, "id" | "ackedAt">): Promise<number> {
    return Number(this.stmts.insertEvent.run(event).lastInsertRowid);
  }

  async pendingEvents(limit: number): Promise<DeletionEvent[]> {
    return (this.stmts.pendingEvents.all(limit) as EventRow[]).map((r) => ({
      id: r.id,
      kind: r.kind,
      account: r.account,
      protocol: r.protocol,
      reason: r.reason,
      usedBytes: r.used_bytes,
      limitBytes: r.limit_bytes,
      at: r.at,
      ackedAt: r.acked_at,
    }));
  }

  async ackEvents(ids: number[], at: string): Promise<number> {
    let acked = 0;
    this.db.transaction(() => {
      for (const id of ids) acked += this.stmts.ackEvent.run(at, id).changes;
    })();
    return acked;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
