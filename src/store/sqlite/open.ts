import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS } from "./migrations.js";
import { OperatorError } from "../../core/errors.js";

/** How long a writer waits for another connection's lock before failing (ms). */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the SQLite database in WAL mode with a busy timeout,
 * so the worker and readers (CLI, tests) never see "database is locked", then
 * applies pending migrations.
 */
export function openDatabase(
  path: string,
  options: { readonly?: boolean } = {},
): Database.Database {
  if (path !== ":memory:" && !options.readonly) mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(path, {
      readonly: options.readonly ?? false,
      fileMustExist: options.readonly ?? false,
    });
  } catch (err) {
    throw new OperatorError(
      `cannot open the database ${path}: ${(err as Error).message}`,
      "check KUOTA_DB and that the folder is writable by the worker",
    );
  }
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (!options.readonly) {
    db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode: a power cut may lose the last commits but never corrupts.
    // Collectors re-read absolute counters, so a lost commit is recounted, not lost.
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    migrate(db);
  }
  return db;
}

function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new OperatorError(
      `the database is at schema version ${current}, newer than this kuota (${MIGRATIONS.length})`,
      "upgrade kuota, or point KUOTA_DB at another file",
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const sql = MIGRATIONS[v] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
