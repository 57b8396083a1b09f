/**
 * Versioned schema migrations. Each runs once, in order, inside a transaction;
 * `PRAGMA user_version` records the last one applied. Append only: never edit a
 * migration that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: accounts, usage, counter baselines, collector state, deletion events
  `
  CREATE TABLE accounts (
    name        TEXT PRIMARY KEY,
    protocol    TEXT NOT NULL CHECK (protocol IN ('ssh','vmess','vless','trojan','shadowsocks')),
    origin      TEXT NOT NULL CHECK (origin IN ('adopted','created')),
    limit_bytes INTEGER CHECK (limit_bytes IS NULL OR limit_bytes > 0),
    expires_at  TEXT,
    state       TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active','locked')),
    present     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE TABLE usage (
    name          TEXT PRIMARY KEY REFERENCES accounts(name) ON DELETE CASCADE,
    up_bytes      INTEGER NOT NULL DEFAULT 0,
    down_bytes    INTEGER NOT NULL DEFAULT 0,
    day           TEXT NOT NULL,
    day_up_bytes  INTEGER NOT NULL DEFAULT 0,
    day_down_bytes INTEGER NOT NULL DEFAULT 0,
    last_seen_at  TEXT,
    updated_at    TEXT NOT NULL
  );
  -- The last raw value read from each source counter. Kept when an account is
  -- deleted: engine counters outlive their users, and a new account of the same
  -- name must not inherit the old figure.
  CREATE TABLE counter_baselines (
    source  TEXT NOT NULL,
    counter TEXT NOT NULL,
    raw     INTEGER NOT NULL,
    PRIMARY KEY (source, counter)
  ) WITHOUT ROWID;
  CREATE TABLE collector_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('deleted','locked')),
    account     TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    used_bytes  INTEGER NOT NULL,
    limit_bytes INTEGER,
    at          TEXT NOT NULL,
    acked_at    TEXT
  );
  CREATE INDEX events_pending ON events (id) WHERE acked_at IS NULL;
  `,
  // 2: hosts clients asked for (host capture), one row per normalized host
  `
  CREATE TABLE hosts (
    id         INTEGER PRIMARY KEY,
    host       TEXT NOT NULL UNIQUE,
    service    TEXT NOT NULL,
    source_ip  TEXT NOT NULL,
    account    TEXT,
    kind       TEXT NOT NULL CHECK (kind IN ('sni','http','xray')),
    count      INTEGER NOT NULL DEFAULT 1,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
  );
  CREATE INDEX hosts_last_seen ON hosts (last_seen);
  CREATE INDEX hosts_service ON hosts (service COLLATE NOCASE, last_seen);
  `,
  // 3: the engine config clients of a locked Xray account (JSON), kept so an unlock restores them
  `
  ALTER TABLE accounts ADD COLUMN locked_clients TEXT;
  `,
];
