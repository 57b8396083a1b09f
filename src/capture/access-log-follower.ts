/**
 * Follows Xray's access log like `tail -F`: by inode, so a rotated file (logrotate's rename or
 * copytruncate) is finished and the new one read from its start. The position (inode and offset
 * of the last whole line) is handed out with each batch of lines, so the caller can store it with
 * what the lines produced and a restarted worker resumes where the last one stopped.
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { MAX_ACCESS_LINE } from "./xray-access-line.js";

export type LogPosition = { ino: number; offset: number };

export interface AccessLogFollowerOptions {
  path: string;
  /** Where reading resumes (a stored position); null reads an unknown file from its start. */
  position: LogPosition | null;
  /** Whole lines read, and the position just after them. */
  onLines: (lines: string[], position: LogPosition) => Promise<void> | void;
  /** Polling interval, ms. Default 500. */
  pollMs?: number;
}

/** Bytes read per step; the loop yields between steps. */
const READ_BYTES = 256 * 1024;
/** Bytes compared at each poll to notice a file truncated and refilled past the old offset. */
const TAIL_BYTES = 64;

export class AccessLogFollower {
  readonly #options: AccessLogFollowerOptions;
  #file: FileHandle | null = null;
  #ino = 0;
  #offset = 0;
  #partial = "";
  /** The last bytes read before `#offset`: if they change, the file was truncated and rewritten. */
  #tail = Buffer.alloc(0);
  /** True while skipping the rest of an overlong line. */
  #skipping = false;
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<void> | null = null;
  #resume: LogPosition | null;
  /** Why the log is not being read now (missing file, permissions), or null. */
  problem: string | null = null;
  linesRead = 0;

  constructor(options: AccessLogFollowerOptions) {
    this.#options = options;
    this.#resume = options.position;
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs ?? 500);
    void this.poll();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#busy;
    await this.#file?.close();
    this.#file = null;
  }

  /** One step: notices rotation and truncation, then reads to the end. Never throws. */
  poll(): Promise<void> {
    this.#busy ??= this.#step().finally(() => (this.#busy = null));
    return this.#busy;
  }

  async #step(): Promise<void> {
    let ino: number | null = null;
    let size = 0;
    try {
      const st = await stat(this.#options.path);
      ino = st.ino;
      size = st.size;
      this.problem = null;
    } catch (err) {
      this.problem = `${this.#options.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
    }
    if (this.#file !== null && ino !== this.#ino) {
      // Rotated (renamed or deleted): finish the old file, then switch.
      await this.#readToEnd();
      await this.#file.close();
      this.#file = null;
    }
    if (ino === null) return;
    if (this.#file === null) {
      try {
        this.#file = await open(this.#options.path, "r");
      } catch (err) {
        this.problem = `${this.#options.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
        return;
      }
      const st = await this.#file.stat();
      this.#ino = st.ino;
      const resume = this.#resume;
      this.#resume = null;
      this.#offset =
        resume !== null && resume.ino === st.ino && resume.offset <= st.size ? resume.offset : 0;
      this.#partial = "";
      this.#skipping = false;
      this.#tail = Buffer.alloc(0);
      size = st.size;
    }
    if (size < this.#offset || !(await this.#tailUnchanged())) {
      // Truncated in place (copytruncate), maybe already refilled: start again from the top.
      this.#offset = 0;
      this.#partial = "";
      this.#skipping = false;
      this.#tail = Buffer.alloc(0);
    }
    await this.#readToEnd();
  }

  async #tailUnchanged(): Promise<boolean> {
    const file = this.#file;
    const length = this.#tail.length;
    if (file === null || length === 0) return true;
    const now = Buffer.alloc(length);
    try {
      const { bytesRead } = await file.read(now, 0, length, this.#offset - length);
      return bytesRead === length && now.equals(this.#tail);
    } catch {
      return true;
    }
  }

  async #readToEnd(): Promise<void> {
    const file = this.#file;
    if (file === null) return;
    const buffer = Buffer.alloc(READ_BYTES);
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await file.read(buffer, 0, READ_BYTES, this.#offset));
      } catch (err) {
        this.problem = `${this.#options.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
        return;
      }
      if (bytesRead === 0) return;
      this.#offset += bytesRead;
      this.#tail = Buffer.from(buffer.subarray(Math.max(0, bytesRead - TAIL_BYTES), bytesRead));
      // latin1: one character per byte, so offsets stay exact (names and hosts are ASCII).
      const text = this.#partial + buffer.toString("latin1", 0, bytesRead);
      const lines = text.split("\n");
      this.#partial = lines.pop() ?? "";
      if (this.#skipping && lines.length > 0) {
        lines.shift();
        this.#skipping = false;
      }
      if (this.#partial.length > MAX_ACCESS_LINE) {
        this.#partial = "";
        this.#skipping = true;
      }
      this.linesRead += lines.length;
      const lineEnd = this.#offset - this.#partial.length;
      await this.#options.onLines(lines, { ino: this.#ino, offset: lineEnd });
    }
  }
}
