import { open, stat } from "node:fs/promises";
import { parseAccessLine, type AccessRecord } from "../lifecycle/access-log.js";

/** Most bytes read in one step: the rest waits for the next one. */
const MAX_READ_BYTES = 1024 * 1024;
/** Sources remembered (the latest line of each ip:port wins); the oldest go first. */
const MAX_SOURCES = 20_000;

/**
 * Follows the engine's access log by offset, reading only what was appended, so
 * that the connections of an account close to its limit are known before the
 * cut. Started at the end of the file minus `backlogBytes`; a truncated or
 * replaced (rotated) file is read again from its start.
 */
export class AccessTail {
  private offset = -1;
  private inode = -1;
  private partial = "";
  private readonly latest = new Map<string, AccessRecord>();
  private reading: Promise<void> | null = null;

  constructor(
    private readonly path: string,
    private readonly backlogBytes = 512 * 1024,
  ) {}

  /** Reads what was appended since the last call; errors (no file yet) leave it as it was. */
  step(): Promise<void> {
    this.reading ??= this.read()
      .catch(() => undefined)
      .finally(() => (this.reading = null));
    return this.reading;
  }

  private async read(): Promise<void> {
    const info = await stat(this.path);
    if (info.ino !== this.inode || info.size < this.offset) {
      this.offset = this.offset === -1 ? Math.max(0, info.size - this.backlogBytes) : 0;
      this.inode = info.ino;
      this.partial = "";
    }
    if (info.size <= this.offset) return;
    const length = Math.min(info.size - this.offset, MAX_READ_BYTES);
    const handle = await open(this.path, "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.offset);
      this.offset += bytesRead;
      const lines = (this.partial + buffer.subarray(0, bytesRead).toString("utf8")).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) this.remember(parseAccessLine(line));
    } finally {
      await handle.close();
    }
  }

  private remember(record: AccessRecord | null): void {
    if (!record) return;
    const key = `${record.ip} ${record.port}`;
    this.latest.delete(key);
    this.latest.set(key, record);
    if (this.latest.size > MAX_SOURCES) {
      const oldest = this.latest.keys().next().value;
      if (oldest !== undefined) this.latest.delete(oldest);
    }
  }

  /** The connections whose latest line names `email`. */
  sourcesOf(email: string): AccessRecord[] {
    const wanted = email.toLowerCase();
    return [...this.latest.values()].filter((r) => r.email === wanted);
  }
}
