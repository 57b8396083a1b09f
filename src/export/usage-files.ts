import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { replaceFile } from "./atomic-write.js";
import { isSafeFileName } from "./safe-name.js";
import { localDate } from "../core/time.js";
import type { Logger } from "../core/log.js";
import type { AccountWithUsage } from "../store/store.js";

/**
 * The `<data dir>/usage/<user>.json` document sellers' menu scripts read.
 * Field names and shapes are a compatibility contract: do not rename.
 */
export type UsageDocument = {
  username: string;
  protocol: string;
  limit_bytes: number | null;
  total_usage: { upload_bytes: number; download_bytes: number; total_bytes: number };
  daily_usage: { date: string; upload_bytes: number; download_bytes: number; total_bytes: number };
  created_at: string;
  updated_at: string;
};

/** Builds the document; daily figures read 0 once the local date has moved on. */
export function usageDocument(a: AccountWithUsage, today: string): UsageDocument {
  const u = a.usage;
  const sameDay = u.day === today;
  const dayUp = sameDay ? u.dayUploadBytes : 0;
  const dayDown = sameDay ? u.dayDownloadBytes : 0;
  return {
    username: a.name,
    protocol: a.protocol,
    limit_bytes: a.limitBytes,
    total_usage: {
      upload_bytes: u.uploadBytes,
      download_bytes: u.downloadBytes,
      total_bytes: u.uploadBytes + u.downloadBytes,
    },
    daily_usage: {
      date: today,
      upload_bytes: dayUp,
      download_bytes: dayDown,
      total_bytes: dayUp + dayDown,
    },
    created_at: a.createdAt,
    updated_at: u.updatedAt,
  };
}

/** Whether the file at `path` holds exactly `content` (false when it cannot be read). */
function sameContent(path: string, content: string): boolean {
  try {
    return readFileSync(path, "utf8") === content;
  } catch {
    return false;
  }
}

/** Minimum time between two writes of one account's file (ms). */
export const USAGE_FILE_MIN_INTERVAL_MS = 1000;

/** Files written between two yields to the event loop. */
const WRITE_SLICE = 100;

/**
 * Time one flush may spend writing files (ms; the flush runs every 200 ms, so at most 5 % of a
 * core). A replace costs 40 µs to 1 ms on ext4 on a virtual disk (measured on the development
 * machine; bench/enforce/RESULTS.md), so with hundreds of accounts busy at once the files would
 * otherwise cost more than all the counting. Past the budget the oldest files are written first
 * and the rest wait for the next flush.
 */
export const USAGE_FILE_FLUSH_BUDGET_MS = 10;

/** Above this many due files, a final flush loads all accounts in one query. */
const BULK_LOAD_THRESHOLD = 50;

/**
 * Keeps the usage files in step with the store: accounts are marked dirty when
 * their usage changes and written at most once a second each, atomically, within
 * a CPU budget per flush (see USAGE_FILE_FLUSH_BUDGET_MS).
 */
export class UsageFiles {
  readonly dir: string;
  private readonly dirty = new Set<string>();
  private readonly lastWrite = new Map<string, number>();
  private readonly skipped = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private behind = false;

  /**
   * @param accounts where figures come from: one account, or all of them in one
   *   query when many files are due at once
   */
  constructor(
    dataDir: string,
    private readonly accounts: {
      getAccount(name: string): Promise<AccountWithUsage | null>;
      listAccounts(): Promise<AccountWithUsage[]>;
    },
    private readonly log: Logger,
    private readonly budgetMs = USAGE_FILE_FLUSH_BUDGET_MS,
  ) {
    this.dir = join(dataDir, "usage");
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
  }

  markDirty(names: Iterable<string>): void {
    for (const n of names) this.dirty.add(n);
  }

  start(tickMs = 200): void {
    this.timer = setInterval(() => void this.flush(false), tickMs);
    this.timer.unref();
  }

  /**
   * Writes dirty files; with `all`, ignores the once-a-second spacing (used at stop).
   * One flush at a time: a tick that finds one running leaves the work to it.
   */
  async flush(all: boolean): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      if (!all) return;
    }
    this.flushing = this.flushNow(all).finally(() => (this.flushing = null));
    await this.flushing;
  }

  private async flushNow(all: boolean): Promise<void> {
    const now = Date.now();
    const today = localDate();
    const last = (name: string) => this.lastWrite.get(name) ?? 0;
    // Oldest first, so a budget cut short starves no file.
    const due = [...this.dirty]
      .filter((name) => all || now - last(name) >= USAGE_FILE_MIN_INTERVAL_MS)
      .sort((a, b) => last(a) - last(b));
    // One query for all accounts (~22 ms at 6,000 accounts, in a profile) pays off only for a
    // final flush; a budgeted one writes far fewer files, read one by one.
    const loaded =
      all && due.length > BULK_LOAD_THRESHOLD
        ? new Map((await this.accounts.listAccounts()).map((a) => [a.name, a]))
        : null;
    const started = performance.now();
    let written = 0;
    for (; written < due.length; written++) {
      if (written > 0 && written % WRITE_SLICE === 0) await new Promise((r) => setImmediate(r));
      if (!all && written > 0 && performance.now() - started > this.budgetMs) break;
      const name = due[written] as string;
      this.dirty.delete(name);
      const account = loaded ? (loaded.get(name) ?? null) : await this.accounts.getAccount(name);
      this.write(name, account, today, now);
    }
    this.noteLag(due.length - written);
  }

  /** One log line when the files fall behind their budget, one when they catch up. */
  private noteLag(left: number): void {
    if (left > 0 && !this.behind) {
      this.behind = true;
      this.log.warn(
        { left, budgetMs: this.budgetMs },
        "usage files fall behind: more changed accounts than writes fit in the budget; " +
          "each is written less often than once a second until traffic drops",
      );
    } else if (left === 0 && this.behind) {
      this.behind = false;
      this.log.info("usage files caught up");
    }
  }

  async writeNow(name: string): Promise<void> {
    this.dirty.delete(name);
    this.write(name, await this.accounts.getAccount(name), localDate(), Date.now());
  }

  private write(name: string, account: AccountWithUsage | null, today: string, now: number): void {
    if (!isSafeFileName(name)) {
      if (!this.skipped.has(name)) {
        this.skipped.add(name);
        this.log.warn({ user: name }, "account name unsafe as a file name; usage file not written");
      }
      return;
    }
    if (!account) return;
    const path = join(this.dir, `${name}.json`);
    const content = JSON.stringify(usageDocument(account, today), null, 2) + "\n";
    try {
      // The first write of each file after a start: a file already holding these figures (the
      // worker restarted, nobody used the account since) is left alone; reading is far cheaper
      // than replacing, and thousands of idle accounts are rewritten at every start otherwise.
      if (!this.lastWrite.has(name) && sameContent(path, content)) {
        this.lastWrite.set(name, now);
        return;
      }
      replaceFile(path, content);
      this.lastWrite.set(name, now);
    } catch (err) {
      this.dirty.add(name);
      this.log.error({ err, user: name }, "usage file write failed; will retry");
    }
  }

  /**
   * Removes an account's file (account deleted). Waits for a flush in flight, so a
   * write that loaded the account before it was deleted cannot bring the file back.
   */
  async remove(name: string): Promise<void> {
    this.dirty.delete(name);
    this.lastWrite.delete(name);
    if (this.flushing) await this.flushing;
    if (!isSafeFileName(name)) return;
    rmSync(join(this.dir, `${name}.json`), { force: true });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush(true);
  }
}
