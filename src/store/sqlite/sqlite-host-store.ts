import type Database from "better-sqlite3";
import type { HostFilter, HostKind, HostRecord, HostSighting, HostStore } from "../host-store.js";

type HostRow = {
  id: number;
  host: string;
  service: string;
  source_ip: string;
  account: string | null;
  kind: HostKind;
  count: number;
  first_seen: string;
  last_seen: string;
};

/** Upper bound of `HostFilter.limit`, rows. */
export const MAX_HOST_ROWS = 10_000;

function toRecord(r: HostRow): HostRecord {
  return {
    id: r.id,
    host: r.host,
    service: r.service,
    sourceIp: r.source_ip,
    account: r.account,
    kind: r.kind,
    count: r.count,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  };
}

/** The `hosts` table (migration 2) on the worker's SQLite handle. */
export class SqliteHostStore implements HostStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO hosts (host, service, source_ip, account, kind, count, first_seen, last_seen)
         VALUES (@host, @service, @sourceIp, @account, @kind, @count, @at, @lastAt)
         ON CONFLICT (host) DO NOTHING`,
      ),
      bump: db.prepare(
        `UPDATE hosts SET count = count + @count,
           last_seen = max(last_seen, @lastAt),
           account = coalesce(account, @account)
         WHERE host = @host`,
      ),
      byId: db.prepare(`SELECT * FROM hosts WHERE id = ?`),
      count: db.prepare(`SELECT count(*) AS n FROM hosts`),
      setState: db.prepare(
        `INSERT INTO collector_state (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
    };
  }

  async recordSightings(
    sightings: readonly HostSighting[],
    state: Record<string, string> = {},
    beforeCommit?: (added: HostRecord[]) => void,
  ): Promise<{ isNew: boolean }[]> {
    return this.db
      .transaction(() => {
        const results: { isNew: boolean }[] = [];
        const added: HostRecord[] = [];
        for (const s of sightings) {
          const row = {
            host: s.host,
            service: s.service,
            sourceIp: s.sourceIp,
            account: s.account,
            kind: s.kind,
            at: s.at,
            lastAt: s.lastAt ?? s.at,
            count: s.count ?? 1,
          };
          const inserted = this.stmts.insert.run(row);
          if (inserted.changes === 1) {
            added.push(toRecord(this.stmts.byId.get(inserted.lastInsertRowid) as HostRow));
          } else {
            this.stmts.bump.run(row);
          }
          results.push({ isNew: inserted.changes === 1 });
        }
        for (const [key, value] of Object.entries(state)) this.stmts.setState.run(key, value);
        if (added.length > 0) beforeCommit?.(added);
        return results;
      })
      .immediate();
  }

  async listHosts(filter: HostFilter = {}): Promise<HostRecord[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = {
      limit: Math.min(Math.max(filter.limit ?? 100, 1), MAX_HOST_ROWS),
    };
    if (filter.since !== undefined) {
      where.push("last_seen >= @since");
      params.since = filter.since;
    }
    if (filter.service !== undefined) {
      where.push("service = @service COLLATE NOCASE");
      params.service = filter.service;
    }
    if (filter.q !== undefined && filter.q !== "") {
      where.push(`host LIKE @q ESCAPE '\\'`);
      params.q = `%${filter.q.toLowerCase().replace(/[\\%_]/g, "\\$&")}%`;
    }
    if (filter.afterId !== undefined) {
      where.push("id > @afterId");
      params.afterId = filter.afterId;
    }
    const order = filter.afterId !== undefined ? "id ASC" : "last_seen DESC, id DESC";
    const sql = `SELECT * FROM hosts ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY ${order} LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as HostRow[]).map(toRecord);
  }

  async countHosts(): Promise<number> {
    return (this.stmts.count.get() as { n: number }).n;
  }
}
