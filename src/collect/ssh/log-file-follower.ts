import { statSync } from "node:fs";
import { open, readdir, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../../core/log.js";
import type { Store } from "../../store/store.js";
import type { LoginSource } from "./login-source.js";

/** Where reading stopped: the file (by inode, which survives a rename) and the byte offset. */
export interface FilePosition {
  inode: number;
  /** First byte not yet delivered: the start of an unfinished last line, if any. */
  offset: number;
}

export interface LogFileFollowerOptions {
  path: string;
  /** Keeps the position under `stateKey`. */
  store: Pick<Store, "getState" | "setState">;
  stateKey: string;
  log: Logger;
  /** How often the file is checked for new lines, rotation and truncation (ms). Default 250. */
  pollMs?: number;
  /** Longer lines are dropped unread (bytes). Default 16,384; login lines are under 512. */
  maxLineBytes?: number;
}

const CHUNK_BYTES = 65_536;
/** Compressed rotations (`auth.log.2.gz`) are never the file a position points into. */
const COMPRESSED = /\.(gz|xz|bz2|zst|lz4)$/;

type OpenFile = { handle: FileHandle; inode: number; offset: number };

/**
 * Follows a syslog file such as /var/log/auth.log, like `tail -F` with a memory:
 * - the position (inode + offset) is stored after each delivered batch; at start reading resumes
 *   there, also when the file was rotated meanwhile (the old file is found by its inode among
 *   `auth.log.1`, `auth.log-20261203`..., read to its end, then the new file from its start);
 * - a rename rotation is noticed by the inode changing: the old file is read to its end first;
 * - a truncation (logrotate's copytruncate) is noticed by the size dropping below the offset.
 *   A file truncated and refilled past the old offset within one poll is not noticed (its first
 *   lines are missed); auth logs grow far slower than that.
 * - With no stored position (first start) the current file is read from its start.
 */
export class LogFileFollower implements LoginSource {
  readonly name: string;
  #problem: string | null = null;
  readonly #opts: Required<Omit<LogFileFollowerOptions, "log" | "store">> &
    Pick<LogFileFollowerOptions, "log" | "store">;
  #file: OpenFile | null = null;
  #pending = Buffer.alloc(0);
  /** Inside a line longer than maxLineBytes: drop bytes up to the next newline. */
  #skipping = false;
  #onLines: (lines: string[]) => Promise<void> = async () => undefined;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: LogFileFollowerOptions) {
    this.name = options.path;
    this.#opts = { pollMs: 250, maxLineBytes: 16_384, ...options };
  }

  get problem(): string | null {
    return this.#problem;
  }

  async start(onLines: (lines: string[]) => Promise<void>): Promise<void> {
    this.#onLines = onLines;
    this.#running = this.#resume().then(() => this.#tick());
    await this.#running;
    this.#running = null;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    await this.#file?.handle.close();
    this.#file = null;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#tick().finally(() => {
        this.#running = null;
        this.#schedule();
      });
    }, this.#opts.pollMs);
  }

  /** Opens the file at the stored position, first finishing a file rotated while we were away. */
  async #resume(): Promise<void> {
    const raw = await this.#opts.store.getState(this.#opts.stateKey);
    const saved = raw === null ? null : parsePosition(raw);
    const current = await stat(this.#opts.path).catch(() => null);
    if (saved && current?.ino === saved.inode) {
      await this.#openCurrent(saved.offset <= current.size ? saved.offset : 0);
      return;
    }
    if (saved) {
      const rotated = await findByInode(this.#opts.path, saved.inode);
      if (rotated) {
        this.#opts.log.info({ file: rotated }, "finishing the SSH auth log rotated while stopped");
        this.#file = { handle: await open(rotated, "r"), inode: saved.inode, offset: saved.offset };
        await this.#drain();
        await this.#finishFile();
      }
    }
    await this.#openCurrent(0);
  }

  async #openCurrent(offset: number): Promise<void> {
    try {
      const handle = await open(this.#opts.path, "r");
      const { ino } = await handle.stat();
      this.#file = { handle, inode: ino, offset };
      if (this.#problem !== null) this.#opts.log.info({ file: this.name }, "SSH auth log found");
      this.#problem = null;
    } catch (err) {
      const problem = `cannot read ${this.name}: ${(err as Error).message}`;
      if (this.#problem === null) {
        this.#opts.log.warn(
          { file: this.name },
          `${problem}; waiting for it (set SSH_AUTH_LOG to where sshd and dropbear log)`,
        );
      }
      this.#problem = problem;
    }
  }

  async #tick(): Promise<void> {
    try {
      if (!this.#file) await this.#openCurrent(0);
      if (!this.#file) return;
      // Nothing written since (the usual tick): one stat, no buffer, no thread-pool round trips.
      const seen = statSync(this.#opts.path, { throwIfNoEntry: false });
      if (seen?.ino === this.#file.inode && seen.size === this.#file.offset) return;
      await this.#drain();
      const now = await stat(this.#opts.path).catch(() => null);
      if (!now) return; // renamed away and not created again yet: the old file stays open
      if (now.ino !== this.#file.inode) {
        await this.#finishFile();
        await this.#openCurrent(0);
        await this.#drain();
      } else if (now.size < this.#file.offset) {
        this.#opts.log.info({ file: this.name }, "SSH auth log truncated; reading from its start");
        this.#file.offset = 0;
        this.#pending = Buffer.alloc(0);
        this.#skipping = false;
        await this.#drain();
      }
    } catch (err) {
      this.#opts.log.error({ err, file: this.name }, "reading the SSH auth log failed");
    }
  }

  /** Delivers every complete line up to the end of the open file. */
  async #drain(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    const buffer = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await file.handle.read(buffer, 0, CHUNK_BYTES, file.offset);
      if (bytesRead === 0) return;
      file.offset += bytesRead;
      await this.#deliver(this.#split(buffer.subarray(0, bytesRead)));
    }
  }

  /** Splits a chunk into complete lines; keeps the unfinished tail, drops overlong lines. */
  #split(chunk: Buffer): string[] {
    const lines: string[] = [];
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      if (this.#skipping) this.#skipping = false;
      else if (nl <= this.#opts.maxLineBytes) lines.push(data.toString("utf8", 0, nl));
      data = data.subarray(nl + 1);
    }
    if (data.length > this.#opts.maxLineBytes) {
      this.#skipping = true;
      data = Buffer.alloc(0);
    }
    this.#pending = this.#skipping ? Buffer.alloc(0) : Buffer.from(data);
    return lines;
  }

  /** A rotated-away file ends: its unfinished last line is a line after all. */
  async #finishFile(): Promise<void> {
    const tail = this.#skipping || this.#pending.length === 0 ? [] : [this.#pending.toString()];
    this.#pending = Buffer.alloc(0);
    this.#skipping = false;
    await this.#deliver(tail);
    await this.#file?.handle.close();
    this.#file = null;
  }

  async #deliver(lines: string[]): Promise<void> {
    if (lines.length > 0) {
      try {
        await this.#onLines(lines);
      } catch (err) {
        // a batch that cannot be handled must not stop the log: it is skipped
        this.#opts.log.error({ err, file: this.name, lines: lines.length }, "login lines skipped");
      }
    }
    const file = this.#file;
    if (!file) return;
    const position: FilePosition = {
      inode: file.inode,
      offset: file.offset - this.#pending.length,
    };
    await this.#opts.store.setState(this.#opts.stateKey, JSON.stringify(position));
  }
}

function parsePosition(raw: string): FilePosition | null {
  try {
    const value = JSON.parse(raw) as Partial<FilePosition>;
    const { inode, offset } = value;
    if (Number.isSafeInteger(inode) && Number.isSafeInteger(offset) && (offset ?? -1) >= 0) {
      return { inode: inode as number, offset: offset as number };
    }
  } catch {
    // a damaged position reads the current file from its start
  }
  return null;
}

/** The rotated copy of `path` (`path.1`, `path-20261203`...) with this inode, if still there. */
async function findByInode(path: string, inode: number): Promise<string | null> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`) && !name.startsWith(`${base}-`)) continue;
    if (COMPRESSED.test(name)) continue;
    const candidate = join(dir, name);
    const info = await stat(candidate).catch(() => null);
    if (info?.ino === inode) return candidate;
  }
  return null;
}
